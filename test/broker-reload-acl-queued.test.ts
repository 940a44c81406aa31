/**
 * An ACL reload (SIGHUP) signalled before a client reconnects applies to the messages its
 * session queued meanwhile (Mosquitto checks the ACL again when it sends a queued message:
 * its test 09-acl-change). libuv runs the signal's handler after the sockets' callbacks of
 * the same poll pass, so the CONNECT read in that pass must not deliver the queue before
 * the reload has run; and what the client pipelined after CONNECT is still answered after
 * CONNACK and the queued messages, whatever it is (a DISCONNECT, a malformed packet, its
 * FIN). The races are made certain by blocking the broker's loop (fixtures/block-loop.cjs)
 * while the signal and the bytes arrive.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runProgram, stopPrograms, tempDir } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';
import { splitFrames } from './helpers/raw-frames.js';
import { startBroker, stopBrokers } from './helpers/broker.js';

const BLOCK_LOOP = fileURLToPath(new URL('./fixtures/block-loop.cjs', import.meta.url));

const raws: RawClient[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  for (const s of sockets.splice(0)) s.destroy();
  await stopPrograms();
  await stopBrokers();
});

const PINGREQ = [0xc0, 0x00];
const PINGRESP = 'd000';

/** CONNECT, keep alive 60, clean session 0, with username `user` if given (3.1.1, or 5 with no properties). */
function connectBytes(id: string, user?: string, version: 4 | 5 = 4): number[] {
  const u = user === undefined ? [] : [0, user.length, ...Buffer.from(user)];
  const body = [0, 4, ...Buffer.from('MQTT'), version, user === undefined ? 0x00 : 0x80, 0, 60, ...(version === 5 ? [0] : []), 0, id.length, ...Buffer.from(id), ...u];
  return [0x10, body.length, ...body];
}

/** A QoS 1 PUBLISH as the broker sends it (no DUP, no retain; at MQTT 5 with no properties). */
function publishHex(topic: string, payload: string, mid: number, version: 4 | 5 = 4): string {
  const body = [0, topic.length, ...Buffer.from(topic), mid >> 8, mid & 0xff, ...(version === 5 ? [0] : []), ...Buffer.from(payload)];
  return Buffer.from([0x32, body.length, ...body]).toString('hex');
}

/** Collects what comes back on a socket, split into frames (hex), and whether it closed. */
function collect(s: net.Socket): { frames(): string[]; closed: Promise<void>; until(last: string, timeoutMs?: number): Promise<string[]> } {
  let got = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  let isClosed = false;
  const frames = (): string[] => splitFrames(got).frames.map((f) => f.toString('hex'));
  s.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    for (const w of waiters.splice(0)) w();
  });
  s.on('error', () => {});
  const closed = new Promise<void>((r) =>
    s.on('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w();
      r();
    }),
  );
  return {
    frames,
    closed,
    until: (last, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${last}; got ${frames().join(' ')}`)), timeoutMs);
        const check = (): void => {
          const f = frames();
          if (f.includes(last) || isClosed) {
            clearTimeout(timer);
            resolve(f);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

/** A raw TCP connection to the broker, destroyed in afterEach. */
function dial(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setNoDelay(true);
    s.once('error', reject);
    sockets.push(s);
    s.once('connect', () => resolve(s));
  });
}

/** Subscribes `id` (clean session 0) to topic/one and topic/two at QoS 1 and leaves; a helper then publishes one message on each. */
async function queueTwo(port: number, id: string, username?: string): Promise<void> {
  const { client: sub } = await RawClient.connect(port, { clientId: id, clean: false, username });
  raws.push(sub);
  await sub.subscribe('topic/one', 1, 1);
  await sub.subscribe('topic/two', 1, 2);
  sub.disconnect();
  await sub.closed;
  const { client: helper } = await RawClient.connect(port, { clientId: 'helper', username });
  raws.push(helper);
  helper.publish('topic/one', 'message1', { qos: 1, messageId: 1 });
  await helper.next('puback');
  helper.publish('topic/two', 'message2', { qos: 1, messageId: 2 });
  await helper.next('puback');
  helper.disconnect();
  await helper.closed;
}

/**
 * ts-mosquitto on `lines` (plus a listener on a free port) whose event loop a test can
 * block (fixtures/block-loop.cjs): block() once the broker reads `s`, then unblock().
 */
async function startBlockable(dir: string, lines: string[]) {
  const port = await freePort();
  const unblockFile = path.join(dir, 'unblock');
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require "${BLOCK_LOOP}"`, BLOCK_LOOP_UNTIL: unblockFile };
  const prog = await runProgram('ts', [`listener ${port} 127.0.0.1`, 'log_dest stderr', ...lines], { dir, env });
  const pid = prog.proc.pid!;
  return {
    prog,
    port,
    pid,
    /** Blocks the broker's loop once it has accepted `s` (its socket is then polled). */
    async block(s: net.Socket): Promise<void> {
      await prog.waitForLine(new RegExp(`^\\d+: New connection from 127\\.0\\.0\\.1:${s.localPort} on port ${port}\\.$`));
      process.kill(pid, 'SIGUSR2');
      await prog.waitForLine('loop blocked');
    },
    unblock(): void {
      fs.writeFileSync(unblockFile, '');
    },
  };
}

/** A directory the broker can read and search when started as root (it then runs as another user). */
function brokerDir(): string {
  const dir = tempDir('acl-race-');
  fs.chmodSync(dir, 0o755);
  return dir;
}

describe('an ACL reload signalled before a persistent client reconnects', () => {
  it('applies to its queued messages even when the CONNECT is read in the poll pass that runs the signal handler', async () => {
    const dir = brokerDir();
    const acl = path.join(dir, 'acl');
    const writeAcl = (two: boolean): void =>
      fs.writeFileSync(acl, ['user username', 'topic readwrite topic/one', ...(two ? ['topic readwrite topic/two'] : [])].join('\n') + '\n', { mode: 0o644 });
    writeAcl(true);
    const b = await startBlockable(dir, ['allow_anonymous true', `acl_file ${acl}`]);
    await queueTwo(b.port, 'acl-check', 'username');
    writeAcl(false);

    // The broker's loop is blocked while the signal and the reconnect's CONNECT arrive, so
    // that one poll pass finds both: the socket's callback runs first, the signal's last.
    // Without the deferral the queue went out checked against the old ACL.
    const s = await dial(b.port);
    const back = collect(s);
    await b.block(s);
    try {
      process.kill(b.pid, 'SIGHUP');
      await new Promise<void>((r) => s.write(Buffer.from([...connectBytes('acl-check', 'username'), ...PINGREQ]), () => r()));
    } finally {
      b.unblock();
    }
    const frames = await back.until(PINGRESP);
    // CONNACK (session present), the topic/one message only, then the answer to the PINGREQ.
    expect(frames).toEqual(['20020100', publishHex('topic/one', 'message1', 1), PINGRESP]);
    await b.prog.waitForLine(/^\d+: Reloading config\.$/);
  });
});

describe('a FIN read in the same socket callback as the CONNECT that resumes a queue', () => {
  it('is acted on after the accept and what came before it: the client connects, is answered, then goes', async () => {
    const b = await startBlockable(brokerDir(), ['allow_anonymous true', 'log_type all']);
    await queueTwo(b.port, 'pipe-fin');
    const s = await dial(b.port);
    const localPort = s.localPort;
    await b.block(s);
    // CONNECT, a PUBLISH filling the read to exactly 64 KiB (libuv's read size: a full read
    // reads again, and finds the FIN in the same callback), then the FIN.
    const connect = connectBytes('pipe-fin');
    // Fixed header 1 + remaining length 3 (over 16383) + topic 5.
    const padTo = 65536 - connect.length - PINGREQ.length - 1 - 3 - 5;
    const rl = padTo + 5;
    const publish = Buffer.concat([Buffer.from([0x30, 0x80 | (rl & 0x7f), 0x80 | ((rl >> 7) & 0x7f), rl >> 14, 0, 3]), Buffer.from('pad'), Buffer.alloc(padTo)]);
    const bytes = Buffer.concat([Buffer.from(connect), publish, Buffer.from(PINGREQ)]);
    expect(bytes.length).toBe(65536);
    try {
      await new Promise<void>((r) => s.end(bytes, () => r()));
    } finally {
      b.unblock();
    }
    await b.prog.waitForLine(/^\d+: Client pipe-fin closed its connection\.$/);
    const lines = b.prog.lines.map((l) => l.replace(/^\d+: /, ''));
    const from = lines.indexOf(`New connection from 127.0.0.1:${localPort} on port ${b.port}.`);
    expect(lines.slice(from + 1).filter((l) => l !== 'loop blocked')).toEqual([
      `New client connected from 127.0.0.1:${localPort} as pipe-fin (p2, c0, k60).`,
      'No will message specified.',
      'Sending CONNACK to pipe-fin (1, 0)',
      "Sending PUBLISH to pipe-fin (d0, q1, r0, m1, 'topic/one', ... (8 bytes))",
      "Sending PUBLISH to pipe-fin (d0, q1, r0, m2, 'topic/two', ... (8 bytes))",
      `Received PUBLISH from pipe-fin (d0, q0, r0, m0, 'pad', ... (${padTo} bytes))`,
      'Received PINGREQ from pipe-fin',
      'Sending PINGRESP to pipe-fin',
      'Client pipe-fin closed its connection.',
    ]);
  });
});

describe('packets pipelined after the CONNECT that resumes a session with queued messages', () => {
  it('are answered after CONNACK and the queued messages: a PINGREQ', async () => {
    const tb = await startBroker();
    await queueTwo(tb.port, 'pipe-ping');
    const s = await dial(tb.port);
    const back = collect(s);
    s.write(Buffer.from([...connectBytes('pipe-ping'), ...PINGREQ]));
    expect(await back.until(PINGRESP)).toEqual(['20020100', publishHex('topic/one', 'message1', 1), publishHex('topic/two', 'message2', 2), PINGRESP]);
  });

  it('are answered after CONNACK and the queued messages: a DISCONNECT', async () => {
    const tb = await startBroker();
    await queueTwo(tb.port, 'pipe-disc');
    const s = await dial(tb.port);
    const back = collect(s);
    s.write(Buffer.from([...connectBytes('pipe-disc'), 0xe0, 0x00]));
    await back.closed;
    expect(back.frames()).toEqual(['20020100', publishHex('topic/one', 'message1', 1), publishHex('topic/two', 'message2', 2)]);
    await tb.waitForLine('Client pipe-disc disconnected.');
  });

  it('are answered after CONNACK and the queued messages: a malformed SUBSCRIBE gets DISCONNECT 0x81 last (5)', async () => {
    const tb = await startBroker();
    await queueTwo(tb.port, 'pipe-bad');
    const s = await dial(tb.port);
    const back = collect(s);
    // SUBSCRIBE with reserved flags 0000: malformed.
    s.write(Buffer.from([...connectBytes('pipe-bad', undefined, 5), 0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00, ...PINGREQ]));
    await back.closed;
    const frames = back.frames();
    // CONNACK with session present (its MQTT 5 properties as the broker's options make them).
    expect([frames[0].slice(0, 2), frames[0].slice(4, 8)]).toEqual(['20', '0100']);
    expect(frames.slice(1)).toEqual([publishHex('topic/one', 'message1', 1, 5), publishHex('topic/two', 'message2', 2, 5), 'e00181']);
  });
});
