/**
 * Logging options of mosquitto.conf(5): log_dest (stderr, stdout, file, syslog, topic,
 * none, several at once), log_type, log_timestamp, log_timestamp_format,
 * connection_messages and log_facility. Where Mosquitto is installed the same
 * configuration runs through both programs and the output is compared.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { RawClient } from './helpers/raw-client.js';
import { MOSQUITTO, freePort, haveProgram } from './helpers/mosquitto.js';
import { runProgram, stopPrograms, tempDir, type RunningProgram } from './helpers/conf-program.js';
import { parseConfigText } from '../src/broker/config/index.js';
import { logFromConfig } from '../src/broker/from-config.js';
import { LogType } from '../src/broker/log.js';
import { syslogFacility, syslogSink } from '../src/broker/log-sinks.js';

const raws: RawClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await stopPrograms();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const haveMosquitto = haveProgram(MOSQUITTO);

async function connect(port: number, opts: Parameters<typeof RawClient.connect>[1]): Promise<RawClient> {
  const { client } = await RawClient.connect(port, opts);
  raws.push(client);
  return client;
}

/** A line without its timestamp, with ports, paths and generated ids blanked. */
function norm(line: string): string {
  return line
    .replace(/^[^:]*\d: /, '')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/port \d+/g, 'port PORT')
    .replace(/from \/\S+/, 'from CONF')
    .replace(/auto-[0-9A-F-]{36}/g, 'auto-ID');
}

/** Starts a program with the given log options on a fresh port. */
async function start(program: string, logLines: string[], waitPort = false): Promise<{ p: RunningProgram; port: number }> {
  const port = await freePort();
  const p = await runProgram(program, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', ...logLines], waitPort ? { ready: port } : {});
  return { p, port };
}

/**
 * log_dest topic: a QoS 2 watcher of $SYS/broker/log/#, then a client that subscribes,
 * unsubscribes and disconnects. Returns what the watcher got: topic, QoS, retain, line.
 */
async function topicScenario(program: string): Promise<string[]> {
  const { port } = await start(program, ['log_dest topic', 'log_type all', 'sys_interval 0'], true);
  const watcher = await connect(port, { clientId: 'watcher' });
  await watcher.subscribe('$SYS/broker/log/#', 2);
  const a = await connect(port, { clientId: 'a', username: 'someone' });
  await a.subscribe('x', 1);
  a.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['x'] });
  await a.next('unsuback');
  a.disconnect();
  const got: string[] = [];
  for (;;) {
    const p = await watcher.waitFor<IPublishPacket>((q) => q.cmd === 'publish', 5000, 'log publish');
    if (p.qos > 0) watcher.send(p.qos === 1 ? { cmd: 'puback', messageId: p.messageId } : { cmd: 'pubrec', messageId: p.messageId });
    const text = String(p.payload);
    expect(text).toMatch(/^\d+: /);
    got.push(`${p.topic} q${p.qos} r${p.retain ? 1 : 0} ${norm(text)}`);
    if (text.endsWith('Client a disconnected.')) return got;
  }
}

/** Will, takeover and disconnect with connection_messages false and every log type. */
async function quietScenario(program: string): Promise<string[]> {
  const { p, port } = await start(program, ['log_dest stderr', 'log_type all', 'connection_messages false']);
  const from = p.lines.length;
  const first = await connect(port, { clientId: 'a', will: { topic: 'w', payload: Buffer.from('gone'), qos: 0, retain: false } });
  await first.subscribe('x', 0);
  await connect(port, { clientId: 'a' }); // takes over
  await first.closed;
  const z = await connect(port, { clientId: 'z' });
  z.disconnect();
  await p.waitForLine(/Received DISCONNECT from z/);
  return p.lines.slice(from).map(norm);
}

describe('log_dest topic', () => {
  it.skipIf(!haveMosquitto)('publishes each line to $SYS/broker/log/<X> at QoS 2 as Mosquitto', async () => {
    const theirs = await topicScenario(MOSQUITTO);
    await stopPrograms();
    const ours = await topicScenario('ts');
    expect(ours).toEqual(theirs);
    expect(ours).toContain('$SYS/broker/log/M/unsubscribe q2 r0 a x');
    expect(ours.some((l) => l.startsWith('$SYS/broker/log/N q2 r0 New client connected'))).toBe(true);
    // Debug lines (Received SUBSCRIBE ...) never go to the topic.
    expect(ours.some((l) => l.includes('/log/D'))).toBe(false);
  }, 30000);
});

describe('connection_messages', () => {
  it.skipIf(!haveMosquitto)('false hides the connect, will and disconnect lines as Mosquitto', async () => {
    const theirs = await quietScenario(MOSQUITTO);
    await stopPrograms();
    const ours = await quietScenario('ts');
    expect(ours).toEqual(theirs);
    expect(ours.some((l) => /New (client|connection)|disconnected|already connected|will message/i.test(l))).toBe(false);
    expect(ours).toContain('Sending CONNACK to z (0, 0)');
  }, 30000);

  it('true (the default) writes them', async () => {
    const { p, port } = await start('ts', ['log_dest stdout']);
    const c = await connect(port, { clientId: 'loud' });
    c.disconnect();
    await p.waitForLine(/Client loud disconnected\.$/);
    expect(p.lines.some((l) => /New client connected from 127\.0\.0\.1:\d+ as loud/.test(l))).toBe(true);
  });
});

describe('log_timestamp and log_timestamp_format', () => {
  it.skipIf(!haveMosquitto)('a strftime format prefixes every line as Mosquitto does', async () => {
    // stderr: Mosquitto's stdout is block-buffered when it is not a terminal.
    const fmt = ['log_dest stderr', 'log_timestamp_format %Y-%m-%dT%H:%M:%S'];
    const { p: theirs } = await start(MOSQUITTO, fmt);
    const { p: ours } = await start('ts', fmt);
    const shape = (l: string): string => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /, 'STAMP: ');
    expect(ours.lines.map(shape).map(norm)).toEqual(theirs.lines.map(shape).map(norm));
    for (const l of ours.lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /);
  }, 20000);

  it('log_timestamp false writes bare lines', async () => {
    const { p } = await start('ts', ['log_dest stdout', 'log_timestamp false']);
    expect(p.stdout[0]).toBe('mosquitto version 2.0.11 starting');
    expect(p.stdout.at(-1)).toBe('mosquitto version 2.0.11 running');
  });
});

describe('log_dest', () => {
  it('writes to a file and stdout at once; stderr gets nothing', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'broker.log');
    const { p, port } = await start('ts', [`log_dest file ${file}`, 'log_dest stdout']);
    const c = await connect(port, { clientId: 'both' });
    c.disconnect();
    await p.waitForLine(/Client both disconnected\./);
    const fileLines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(fileLines).toEqual(p.stdout);
    expect(p.lines.length).toBe(p.stdout.length);
  });

  it('a log file that cannot be opened is reported and the broker runs on, as Mosquitto', async () => {
    const { p } = await start('ts', ['log_dest file /nonexistent/dir/x.log', 'log_dest stdout']);
    expect(p.stdout.map(norm)).toContain('Error: Unable to open log file /nonexistent/dir/x.log for writing.');
  });

  it('none writes nothing; log_type picks the types', () => {
    const none = logFromConfig(parseConfigText('log_dest none\n', 'x.conf').config);
    expect(none.sinks).toEqual([]);
    expect(none.enabled(LogType.Error)).toBe(false);
    const some = logFromConfig(parseConfigText('log_type subscribe\nlog_type warning\n', 'x.conf').config);
    expect(some.enabled(LogType.Subscribe)).toBe(true);
    expect(some.enabled(LogType.Warning)).toBe(true);
    expect(some.enabled(LogType.Notice)).toBe(false);
    expect(some.enabled(LogType.Debug)).toBe(false);
    const all = logFromConfig(parseConfigText('log_type all\n', 'x.conf').config);
    for (const t of Object.values(LogType)) expect(all.enabled(t)).toBe(true);
    const nothing = logFromConfig(parseConfigText('log_type none\n', 'x.conf').config);
    expect(nothing.mask).toBe(0);
  });

  it('log_type filters what the program writes', async () => {
    const { p, port } = await start('ts', ['log_dest stdout', 'log_type subscribe', 'log_type unsubscribe'], true);
    const c = await connect(port, { clientId: 's' });
    await c.subscribe('t/#', 1);
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['t/#'] });
    await c.next('unsuback');
    await p.waitForLine(/: s t\/#$/);
    await p.waitForLine(/: s 1 t\/#$/);
    expect(p.stdout.map(norm)).toEqual(['s 1 t/#', 's t/#']);
  });
});

describe('log_dest syslog', () => {
  it.skipIf(!haveProgram('python3') || !haveProgram('logger'))(
    'sends syslog(3) datagrams with the facility and severity of each line',
    async () => {
      const dir = tempDir();
      dirs.push(dir);
      const sock = path.join(dir, 'log.sock');
      // A unix datagram receiver standing in for /dev/log.
      const rx = spawn('python3', [
        '-c',
        [
          'import socket,sys,os',
          's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)',
          `s.bind(${JSON.stringify(sock)})`,
          'print("ready",flush=True)',
          'while True:',
          '  d=s.recv(65536)',
          '  print(d.decode(),flush=True)',
        ].join('\n'),
      ]);
      const received: string[] = [];
      const waiters: (() => void)[] = [];
      rx.stdout.on('data', (d: Buffer) => {
        received.push(...d.toString().split('\n').filter((l) => l.length > 0));
        for (const w of waiters.splice(0)) w();
      });
      const waitCount = (n: number): Promise<void> =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`syslog got: ${received.join(' | ')}`)), 5000);
          const check = (): void => {
            if (received.length >= n) {
              clearTimeout(t);
              resolve();
            } else waiters.push(check);
          };
          check();
        });
      try {
        await waitCount(1);
        // log_facility 3 is local3 (19); without it, daemon (3).
        expect(syslogFacility(null)).toBe(3);
        expect(syslogFacility(3)).toBe(19);
        const sink = syslogSink({ facility: syslogFacility(3), socketPath: sock });
        sink.write(LogType.Notice, '123: New connection', 'New connection');
        sink.write(LogType.Error, '123: Error: bad', 'Error: bad');
        sink.write(LogType.Subscribe, '123: c 0 t', 'c 0 t');
        await waitCount(4);
        sink.close?.();
        const head = `[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d mosquitto\\[${process.pid}\\]: `;
        expect(received[1]).toMatch(new RegExp(`^<${19 * 8 + 5}>${head}New connection$`));
        expect(received[2]).toMatch(new RegExp(`^<${19 * 8 + 3}>${head}Error: bad$`));
        expect(received[3]).toMatch(new RegExp(`^<${19 * 8 + 5}>${head}c 0 t$`));
      } finally {
        if (rx.pid !== undefined) process.kill(rx.pid, 'SIGKILL');
      }
    },
  );

  it('the program starts with log_dest syslog when /dev/log is absent or present', async () => {
    const { p, port } = await start('ts', ['log_dest syslog', 'log_dest stdout', 'log_facility 5']);
    const c = await connect(port, { clientId: 'sl' });
    c.disconnect();
    await p.waitForLine(/Client sl disconnected\./);
  });
});
