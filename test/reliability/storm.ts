// npm run storm [-- --clients N] [--broker ts|mosquitto|both] [--out DIR]
//
// Reconnect storm: N clients, each its own user with a bcrypt password (cost 10, what
// ts-mosquitto_passwd writes), connect at once to a freshly started broker, while two
// already-connected clients keep a QoS 0 flow of 1,000 msg/s; reports how long until every
// CONNACK arrived and the flow's latency percentiles during the storm (p99 < 20 ms is the
// bar). Mosquitto runs the same storm on the same users in a file made by mosquitto_passwd
// (sha512-pbkdf2, $7$). The flow runs in a child process of its own, so that the storm's
// sockets in this one do not delay it; STORM_NODE_ARGS passes node flags to ts-mosquitto
// (e.g. '--cpu-prof --cpu-prof-dir=DIR', the directory writable by the user it drops to).
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import mqttPacket from 'mqtt-packet';
import { ROOT, freePort, sleep, waitForPort } from './broker-process.js';

interface Args {
  clients: number;
  brokers: ('ts' | 'mosquitto')[];
  out: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { clients: 5000, brokers: ['ts', 'mosquitto'], out: path.join(ROOT, 'test/reliability/results') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[++i];
    if (argv[i - 1] === '--clients') a.clients = Number(v);
    else if (argv[i - 1] === '--broker') a.brokers = v === 'both' ? ['ts', 'mosquitto'] : [v as 'ts' | 'mosquitto'];
    else if (argv[i - 1] === '--out') a.out = v === '-' ? undefined : path.resolve(v);
    else throw new Error(`storm: unknown option ${argv[i - 1]}`);
  }
  return a;
}

function connectFrame(clientId: string, username?: string, password?: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: true,
    keepalive: 0,
    username,
    password: password === undefined ? undefined : Buffer.from(password),
  });
}

/** Connects and resolves at CONNACK with its return code (-1: closed before one). */
function rawConnect(port: number, frame: Buffer, onData?: (b: Buffer) => void): Promise<{ sock: net.Socket; rc: number }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    let done = false;
    sock.on('error', () => {});
    sock.on('close', () => {
      if (!done) resolve({ sock, rc: -1 });
    });
    sock.once('connect', () => sock.write(frame));
    sock.once('data', (b: Buffer) => {
      done = true;
      resolve({ sock, rc: b[3] });
      if (onData !== undefined) {
        if (b.length > 4) onData(b.subarray(4));
        sock.on('data', onData);
      }
    });
  });
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/**
 * The flow, in a process of its own: the storm's 5,000 sockets must not delay the driver's
 * own timers and reads, or their delay would be counted as the broker's. Two clients
 * connected before the storm; 1,000 msg/s QoS 0 from one to the other, each stamped.
 */
async function flowChild(port: number, su: string, sp: string, pu: string, pp: string): Promise<void> {
  const lat: number[] = [];
  const splitter = mqttPacket.parser({ protocolVersion: 4 });
  splitter.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'publish') lat.push(Number(process.hrtime.bigint() - (p.payload as Buffer).readBigUInt64BE(0)) / 1e6);
  });
  const sub = await rawConnect(port, connectFrame('storm-sub', su, sp), (b) => splitter.parse(b));
  sub.sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flow', qos: 0 }] }));
  const pub = await rawConnect(port, connectFrame('storm-pub', pu, pp));
  if (sub.rc !== 0 || pub.rc !== 0) throw new Error(`flow clients refused (${sub.rc}, ${pub.rc})`);
  await sleep(300);
  const body = Buffer.alloc(16);
  setInterval(() => {
    // 1,000 msg/s: 10 every 10 ms, each stamped with its send time.
    for (let k = 0; k < 10; k++) {
      body.writeBigUInt64BE(process.hrtime.bigint(), 0);
      pub.sock.write(mqttPacket.generate({ cmd: 'publish', topic: 'flow', payload: body, qos: 0, retain: false, dup: false }));
    }
  }, 10);
  await sleep(1000);
  process.on('message', (m) => {
    if (m === 'mark') lat.length = 0;
    else if (m === 'stop') process.send!(lat, () => process.exit(0));
  });
  process.send!('ready');
}

async function storm(kind: 'ts' | 'mosquitto', dir: string, users: { u: string; p: string }[], passwdFile: string): Promise<Record<string, unknown>> {
  const port = await freePort();
  const conf = path.join(dir, `${kind}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwdFile}\nmax_connections -1\n`);
  // STORM_NODE_ARGS: node flags for ts-mosquitto, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.STORM_NODE_ARGS ?? '').split(' ').filter((x) => x !== '');
  const child: ChildProcess =
    kind === 'ts'
      ? spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin/ts-mosquitto.js'), '-c', conf], { stdio: 'ignore' })
      : spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let flow: ChildProcess | undefined;
  try {
    await waitForPort(port, 10000);
    flow = fork(process.argv[1], ['--flow-child', String(port), users[0].u, users[0].p, users[1].u, users[1].p]);
    const f = flow;
    await new Promise<void>((resolve, reject) => {
      f.once('message', () => resolve());
      f.once('exit', () => reject(new Error(`${kind}: the flow process ended`)));
    });
    f.send('mark');
    const t0 = performance.now();
    const results = await Promise.all(users.slice(2).map((x, i) => rawConnect(port, connectFrame(`storm-${i}`, x.u, x.p))));
    const stormMs = performance.now() - t0;
    const during = await new Promise<number[]>((resolve) => {
      f.once('message', (m) => resolve(m as number[]));
      f.send('stop');
    });
    const accepted = results.filter((r) => r.rc === 0).length;
    for (const r of results) r.sock.destroy();
    return {
      broker: kind,
      hash: kind === 'ts' ? 'bcrypt cost 10' : 'sha512-pbkdf2 ($7$, mosquitto_passwd)',
      clients: results.length,
      accepted,
      stormMs: Math.round(stormMs),
      connectsPerSecond: Math.round((results.length / stormMs) * 1000),
      flowMessages: during.length,
      flowP50Ms: Number(pct(during, 50).toFixed(3)),
      flowP99Ms: Number(pct(during, 99).toFixed(3)),
      flowMaxMs: Number(pct(during, 100).toFixed(3)),
      loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    };
  } finally {
    flow?.kill('SIGKILL');
    // SIGTERM first, so that a --cpu-prof profile is written; SIGKILL if it lingers.
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    process.removeListener('exit', killOnExit);
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--hash-child') {
    const [from, to] = process.argv.slice(3).map(Number);
    let out = '';
    for (let i = from; i < to; i++) out += `u${i}:${bcrypt.hashSync(`storm-password-${i}`, 10)}\n`;
    process.stdout.write(out);
    return;
  }
  if (process.argv[2] === '--flow-child') {
    const [port, su, sp, pu, pp] = process.argv.slice(3);
    await flowChild(Number(port), su, sp, pu, pp);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-storm-'));
  // The broker may drop to the mosquitto user: it must be able to read the files.
  spawnSync('chmod', ['755', dir]);
  const n = args.clients + 2;
  // Test users, the same in every run, so that their hashed file (minutes of bcrypt) is
  // made once and kept in the temporary directory for the next run.
  const users = Array.from({ length: n }, (_, i) => ({ u: `u${i}`, p: `storm-password-${i}` }));
  const results: Record<string, unknown>[] = [];
  if (args.brokers.includes('ts')) {
    const cached = path.join(os.tmpdir(), `ts-mosquitto-storm-bcrypt-${n}.txt`);
    if (!existsSync(cached)) {
      process.stderr.write(`storm: hashing ${n} bcrypt passwords (kept in ${cached}) ... `);
      // One process per core.
      const k = os.cpus().length;
      const parts = await Promise.all(
        Array.from({ length: k }, (_, j) => {
          const from = Math.floor((j * n) / k);
          const to = Math.floor(((j + 1) * n) / k);
          return new Promise<string>((resolve, reject) => {
            const h = spawn(process.execPath, [process.argv[1], '--hash-child', String(from), String(to)], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            h.stdout!.on('data', (b: Buffer) => (out += b.toString()));
            h.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error('storm: hashing failed'))));
          });
        }),
      );
      writeFileSync(cached, parts.join(''), { mode: 0o644 });
      process.stderr.write('done\n');
    }
    writeFileSync(path.join(dir, 'passwd.bcrypt'), readFileSync(cached), { mode: 0o644 });
    results.push(await storm('ts', dir, users, path.join(dir, 'passwd.bcrypt')));
    process.stderr.write(`storm: ${JSON.stringify(results[results.length - 1])}\n`);
  }
  if (args.brokers.includes('mosquitto') && spawnSync('mosquitto', ['-h']).error === undefined) {
    const f = path.join(dir, 'passwd.pbkdf2');
    writeFileSync(f, users.map((x) => `${x.u}:${x.p}`).join('\n') + '\n', { mode: 0o644 });
    spawnSync('mosquitto_passwd', ['-U', f], { stdio: 'ignore' });
    spawnSync('chmod', ['644', f]);
    results.push(await storm('mosquitto', dir, users, f));
    process.stderr.write(`storm: ${JSON.stringify(results[results.length - 1])}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
  const ts = results.find((r) => r.broker === 'ts');
  const pass = ts === undefined || ((ts.flowP99Ms as number) < 20 && ts.accepted === ts.clients);
  if (args.out !== undefined) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(
      path.join(args.out, 'storm.json'),
      JSON.stringify({ when: new Date().toISOString(), machine: { cpus: os.cpus().length, node: process.version, note: 'shared 2-core machine' }, pass, results }, null, 2) + '\n',
    );
  }
  process.stderr.write(pass ? 'storm: PASS\n' : 'storm: FAIL (p99 >= 20 ms or a client refused)\n');
  process.exit(pass ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`storm: ${err.message}\n`);
  process.exit(2);
});
