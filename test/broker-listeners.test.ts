/**
 * Listener options of mosquitto.conf(5), through the ts-mosquitto program (and Mosquitto
 * with the same configuration where it is installed): several listeners, unix sockets,
 * socket_domain, bind_interface, max_connections, mount_point, use_username_as_clientid,
 * clientid_prefixes, allow_zero_length_clientid, auto_id_prefix, per_listener_settings,
 * include_dir, -c with a relative path, and `user` when started as root.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import { RawClient, type ConnectOptions } from './helpers/raw-client.js';
import { MOSQUITTO, freePort, haveProgram } from './helpers/mosquitto.js';
import { runProgram, stopPrograms, tempDir, type RunningProgram } from './helpers/conf-program.js';

const raws: RawClient[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  for (const s of sockets.splice(0)) s.destroy();
  await stopPrograms();
});
const programs = haveProgram(MOSQUITTO) ? ['ts', MOSQUITTO] : ['ts'];
const label = (program: string): string => (program === 'ts' ? 'ts-mosquitto' : 'mosquitto');

async function connect(port: number, opts: ConnectOptions): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const { client, connack } = await RawClient.connect(port, opts);
  raws.push(client);
  return { c: client, connack };
}

/** CONNACK return code of a connection attempt, or 'closed' if the socket ends first. */
async function attempt(port: number, opts: ConnectOptions, host = '127.0.0.1'): Promise<number | 'closed' | 'refused'> {
  let c: RawClient;
  try {
    c = await RawClient.open(port, host);
  } catch {
    return 'refused';
  }
  raws.push(c);
  try {
    const ack = await c.handshake(opts);
    return ack.returnCode ?? ack.reasonCode ?? -1;
  } catch {
    return 'closed';
  }
}

/** A minimal MQTT 3.1.1 client over any stream (unix sockets): CONNECT, then packets as they come. */
function streamClient(sock: net.Socket): { packets: Packet[]; next(cmd: string): Promise<Packet>; send(p: Packet): void } {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  const waiters: (() => void)[] = [];
  parser.on('packet', (p: Packet) => {
    packets.push(p);
    for (const w of waiters.splice(0)) w();
  });
  sock.on('data', (d: Buffer) => parser.parse(d));
  return {
    packets,
    send: (p) => sock.write(mqttPacket.generate(p)),
    next: (cmd) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${cmd}`)), 5000);
        const check = (): void => {
          const i = packets.findIndex((p) => p.cmd === cmd);
          if (i !== -1) {
            clearTimeout(t);
            resolve(packets.splice(i, 1)[0]);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

async function start(program: string, conf: string[], opts: Parameters<typeof runProgram>[2] = {}): Promise<RunningProgram> {
  return runProgram(program, ['log_dest stderr', ...conf], opts);
}

/** Runs the scenario on every available program and expects the same result from each. */
async function sideBySide<T>(make: (ports: number[]) => string[], scenario: (ports: number[], p: RunningProgram) => Promise<T>, want: T): Promise<void> {
  for (const program of programs) {
    const ports = [await freePort(), await freePort()];
    const p = await start(program, make(ports));
    const got = await scenario(ports, p);
    expect({ program: label(program), got }).toEqual({ program: label(program), got: want });
    for (const c of raws.splice(0)) c.destroy();
    await stopPrograms();
  }
}

describe('several listeners, unix sockets', () => {
  it('two TCP listeners and a unix socket at once, one broker behind them', async () => {
    const dir = tempDir();
    const sockPath = path.join(dir, 'mqtt.sock');
    const [a, b] = [await freePort(), await freePort()];
    const p = await start('ts', [`listener ${a} 127.0.0.1`, `listener ${b} 127.0.0.1`, `listener 0 ${sockPath}`, 'allow_anonymous true'], { dir });
    expect(p.lines.some((l) => l.endsWith(`Opening unix listen socket on path ${sockPath}.`))).toBe(true);
    const { c: sub } = await connect(a, { clientId: 'sub' });
    await sub.subscribe('t', 0);
    const { c: pub } = await connect(b, { clientId: 'pub' });
    pub.publish('t', 'over b');
    expect(String((await sub.nextPublish()).payload)).toBe('over b');
    const sock = net.connect(sockPath);
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const u = streamClient(sock);
    u.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'unix', clean: true, keepalive: 60 });
    expect(((await u.next('connack')) as IConnackPacket).returnCode).toBe(0);
    u.send({ cmd: 'publish', topic: 't', payload: Buffer.from('over unix'), qos: 0, retain: false, dup: false });
    expect(String((await sub.nextPublish()).payload)).toBe('over unix');
    await p.waitForLine(/New client connected from .* as unix/);
  });
});

describe('socket_domain and bind_interface', () => {
  it('socket_domain ipv4 listens on IPv4 only, ipv6 on IPv6 only', async () => {
    const port4 = await freePort();
    const port6 = await freePort();
    await start('ts', [`listener ${port4}`, 'socket_domain ipv4', `listener ${port6}`, 'socket_domain ipv6', 'allow_anonymous true']);
    expect(await attempt(port4, { clientId: 'a' }, '127.0.0.1')).toBe(0);
    expect(await attempt(port4, { clientId: 'b' }, '::1')).toBe('refused');
    expect(await attempt(port6, { clientId: 'c' }, '::1')).toBe(0);
    expect(await attempt(port6, { clientId: 'd' }, '127.0.0.1')).toBe('refused');
  });

  const other = Object.entries(os.networkInterfaces()).find(([n, a]) => n !== 'lo' && a?.some((x) => x.family === 'IPv4' && !x.internal));
  it('bind_interface lo binds the loopback address only', async () => {
    const port = await freePort();
    await start('ts', [`listener ${port}`, 'bind_interface lo', 'allow_anonymous true']);
    expect(await attempt(port, { clientId: 'a' }, '127.0.0.1')).toBe(0);
    if (other !== undefined) {
      const addr = other[1]!.find((x) => x.family === 'IPv4')!.address;
      expect(await attempt(port, { clientId: 'b' }, addr)).toBe('refused');
    }
  });

  it('bind_interface with an unknown interface stops start-up with Mosquitto\'s warnings', async () => {
    const port = await freePort();
    const p = await start('ts', [`listener ${port}`, 'bind_interface nosuch0', 'allow_anonymous true'], { ready: /starting/ });
    const code = await new Promise<number | null>((resolve) => (p.proc.exitCode !== null ? resolve(p.proc.exitCode) : p.proc.once('exit', resolve)));
    expect(code).toBe(1);
    expect(p.lines.some((l) => l.endsWith('Warning: Interface nosuch0 does not support IPv4 configuration.'))).toBe(true);
  });
});

describe('per-listener limits and client ids', () => {
  it('max_connections is per listener', async () => {
    await sideBySide(
      ([a, b]) => [`listener ${a} 127.0.0.1`, 'max_connections 2', `listener ${b} 127.0.0.1`, 'allow_anonymous true'],
      async ([a, b]) => [
        await attempt(a, { clientId: 'a1' }),
        await attempt(a, { clientId: 'a2' }),
        await attempt(a, { clientId: 'a3' }),
        await attempt(b, { clientId: 'b1' }),
      ],
      [0, 0, 'closed', 0],
    );
  }, 30000);

  it('use_username_as_clientid: the username becomes the client id', async () => {
    await sideBySide(
      ([a, b]) => [`listener ${a} 127.0.0.1`, 'use_username_as_clientid true', `listener ${b} 127.0.0.1`, 'allow_anonymous true'],
      async ([a, b], p) => {
        await connect(a, { clientId: 'ignored', username: 'bob' });
        await p.waitForLine(/New client connected from .* as bob \(/);
        await connect(b, { clientId: 'kept', username: 'ann' });
        await p.waitForLine(/New client connected from .* as kept \(/);
        return true;
      },
      true,
    );
  }, 30000);

  it('clientid_prefixes: only client ids with the prefix may connect (CONNACK 5 otherwise)', async () => {
    await sideBySide(
      ([a]) => [`listener ${a} 127.0.0.1`, 'clientid_prefixes ok-', 'allow_anonymous true'],
      async ([a]) => [await attempt(a, { clientId: 'bad' }), await attempt(a, { clientId: 'ok-1' })],
      [5, 0],
    );
  }, 30000);

  it('allow_zero_length_clientid false refuses an empty id; auto_id_prefix names generated ids', async () => {
    await sideBySide(
      ([a, b]) => [
        'per_listener_settings true',
        `listener ${a} 127.0.0.1`,
        'allow_zero_length_clientid false',
        'allow_anonymous true',
        `listener ${b} 127.0.0.1`,
        'auto_id_prefix pre-',
        'allow_anonymous true',
      ],
      async ([a, b]) => {
        const refused = await attempt(a, { clientId: '' });
        const { connack } = await connect(b, { clientId: '', version: 5 });
        const id = String(connack.properties?.assignedClientIdentifier ?? '');
        return [refused, id.startsWith('pre-')];
      },
      [2, true],
    );
  }, 30000);

  it('per_listener_settings true: each listener has its own allow_anonymous', async () => {
    await sideBySide(
      ([a, b]) => ['per_listener_settings true', `listener ${a} 127.0.0.1`, 'allow_anonymous true', `listener ${b} 127.0.0.1`, 'allow_anonymous false'],
      async ([a, b]) => [await attempt(a, { clientId: 'x' }), await attempt(b, { clientId: 'y' })],
      [0, 5],
    );
  }, 30000);

  it('per_listener_settings true: the default listener (port) lets anonymous clients in when allow_anonymous is unset, listener sections do not', async () => {
    // Mosquitto 2.0.11 gives allow_anonymous's false default to listener sections only.
    await sideBySide(
      ([a, b]) => ['per_listener_settings true', `port ${a}`, `listener ${b} 127.0.0.1`],
      async ([a, b]) => [await attempt(a, { clientId: 'x' }), await attempt(b, { clientId: 'y' })],
      [0, 5],
    );
  }, 30000);
});

describe('mount_point', () => {
  it('prefixes topics on the way in and strips them on the way out: publish, subscribe, retained, will', async () => {
    // As mosquitto.conf(5) documents it. (Mosquitto 2.0.11 itself leaves the mount point on
    // topics sent to the mounted client, 'm/x' for 'x', so this one is not run side by side.)
    const [a, b] = [await freePort(), await freePort()];
    await start('ts', [`listener ${a} 127.0.0.1`, 'mount_point m/', `listener ${b} 127.0.0.1`, 'allow_anonymous true']);
    const got = await (async () => {
        const { c: plain } = await connect(b, { clientId: 'plain' });
        await plain.subscribe('#', 0);
        plain.publish('m/r', 'kept', { retain: true, qos: 1, messageId: 5 });
        await plain.waitFor((p) => p.cmd === 'puback');
        const { c: mounted } = await connect(a, {
          clientId: 'mounted',
          will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: false },
        });
        await mounted.subscribe('#', 0);
        const retained = (await mounted.nextPublish()) as IPublishPacket;
        mounted.publish('y', 'from mounted');
        const inPlain: string[] = [];
        const take = async (): Promise<void> => {
          const p = await plain.waitFor<IPublishPacket>((q) => q.cmd === 'publish' && q.topic !== 'm/r' && q.topic !== 'm/x', 3000, 'publish');
          inPlain.push(`${p.topic} ${String(p.payload)}`);
        };
        await take();
        plain.publish('m/x', 'to mounted');
        const out = (await mounted.waitFor<IPublishPacket>((q) => q.cmd === 'publish' && q.topic === 'x', 3000, 'x')) as IPublishPacket;
        mounted.destroy(); // unclean: the will goes
        await take();
        return { retained: `${retained.topic} ${String(retained.payload)}`, out: `${out.topic} ${String(out.payload)}`, inPlain };
    })();
    expect(got).toEqual({ retained: 'r kept', out: 'x to mounted', inPlain: ['m/y from mounted', 'm/w bye'] });
  });
});

describe('include_dir and -c', () => {
  it('include_dir reads its *.conf files in order; -c takes a path relative to the working directory', async () => {
    const dir = tempDir();
    const inc = path.join(dir, 'conf.d');
    fs.mkdirSync(inc);
    const [a, b] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(inc, 'b.conf'), `listener ${b} 127.0.0.1\n`);
    fs.writeFileSync(path.join(inc, 'a.conf'), `listener ${a} 127.0.0.1\nallow_anonymous true\n`);
    fs.writeFileSync(path.join(inc, 'ignored.txt'), 'nonsense here\n');
    const p = await start('ts', ['include_dir conf.d'], { dir, cwd: dir, confArg: 'mosquitto.conf' });
    expect(p.lines.some((l) => l.endsWith('Config loaded from mosquitto.conf.'))).toBe(true);
    const opened = p.lines.filter((l) => /Opening ipv4 listen socket/.test(l)).map((l) => Number(/port (\d+)/.exec(l)![1]));
    expect(opened).toEqual([a, b]);
    expect(await attempt(a, { clientId: 'x' })).toBe(0);
    expect(await attempt(b, { clientId: 'y' })).toBe(0);
  });
});

describe('user', () => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  it.skipIf(!root)('started as root with `user nobody`, the broker runs as nobody once its listeners are open', async () => {
    // dropPrivileges() runs in a broker process of its own: the test runner stays root.
    const port = await freePort();
    const script = [
      `import { Broker } from ${JSON.stringify(path.resolve('dist/broker/broker.js'))};`,
      `import { dropPrivileges } from ${JSON.stringify(path.resolve('dist/broker/privileges.js'))};`,
      `const b = new Broker({ listeners: [{ port: ${port}, host: '127.0.0.1' }], sysInterval: 0 });`,
      'await b.start();',
      "if (!dropPrivileges('nobody', b.log)) process.exit(1);",
      "console.log('dropped');",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(out)), 8000);
        child.stdout.on('data', () => out.includes('dropped') && (clearTimeout(t), resolve()));
        child.on('exit', () => reject(new Error(`exited: ${out}`)));
      });
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)!.slice(1, 3)).toEqual(['65534', '65534']);
      expect(/^Gid:\s+(\d+)/m.exec(status)![1]).toBe('65534');
      // The listener opened as root still serves.
      expect(await attempt(port, { clientId: 'after' })).toBe(0);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
  });

  it.skipIf(!root)('a configured user that does not exist stops start-up', async () => {
    const { Log } = await import('../src/broker/log.js');
    const { dropPrivileges } = await import('../src/broker/privileges.js');
    const lines: string[] = [];
    const log = new Log(0xff, [{ write: (_t, l) => lines.push(l) }]);
    log.timestamps = false;
    expect(dropPrivileges('no-such-user-here', log)).toBe(false);
    expect(lines).toEqual(["Error: Unable to drop privileges to 'no-such-user-here' because this user does not exist."]);
  });
});
