// npm run storm [-- --clients N] [--broker ts|mosquitto|both] [--out DIR]
//
// Reconnect storm: N clients, each its own user with a bcrypt password (cost 10, what
// ts-mosquitto_passwd writes), connect at once to a freshly started broker, while two
// already-connected clients keep a QoS 0 flow of 1,000 msg/s; reports how long until every
// CONNACK arrived and the flow's latency percentiles during the storm (p99 < 20 ms is the
// bar). Mosquitto runs the same storm on the same users in a file made by mosquitto_passwd
// (sha512-pbkdf2, $7$).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

async function storm(kind: 'ts' | 'mosquitto', dir: string, users: { u: string; p: string }[], passwdFile: string): Promise<Record<string, unknown>> {
  const port = await freePort();
  const conf = path.join(dir, `${kind}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwdFile}\nmax_connections -1\n`);
  const child: ChildProcess =
    kind === 'ts'
      ? spawn(process.execPath, [path.join(ROOT, 'bin/ts-mosquitto.js'), '-c', conf], { stdio: 'ignore' })
      : spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  try {
    await waitForPort(port, 10000);
    // The flow: two clients connected before the storm (their verification is not timed).
    const lat: number[] = [];
    const splitter = mqttPacket.parser({ protocolVersion: 4 });
    splitter.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'publish') lat.push(Number(process.hrtime.bigint() - (p.payload as Buffer).readBigUInt64BE(0)) / 1e6);
    });
    const sub = await rawConnect(port, connectFrame('storm-sub', users[0].u, users[0].p), (b) => splitter.parse(b));
    sub.sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flow', qos: 0 }] }));
    const pub = await rawConnect(port, connectFrame('storm-pub', users[1].u, users[1].p));
    if (sub.rc !== 0 || pub.rc !== 0) throw new Error(`${kind}: flow clients refused (${sub.rc}, ${pub.rc})`);
    await sleep(300);
    const body = Buffer.alloc(16);
    const flow = setInterval(() => {
      // 1,000 msg/s: 10 every 10 ms, each stamped with its send time.
      for (let k = 0; k < 10; k++) {
        body.writeBigUInt64BE(process.hrtime.bigint(), 0);
        pub.sock.write(mqttPacket.generate({ cmd: 'publish', topic: 'flow', payload: body, qos: 0, retain: false, dup: false }));
      }
    }, 10);
    await sleep(1000);
    lat.length = 0;
    const t0 = performance.now();
    const results = await Promise.all(users.slice(2).map((x, i) => rawConnect(port, connectFrame(`storm-${i}`, x.u, x.p))));
    const stormMs = performance.now() - t0;
    const during = lat.splice(0);
    clearInterval(flow);
    const accepted = results.filter((r) => r.rc === 0).length;
    for (const r of results) r.sock.destroy();
    sub.sock.destroy();
    pub.sock.destroy();
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
    };
  } finally {
    child.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-storm-'));
  // The broker may drop to the mosquitto user: it must be able to read the files.
  spawnSync('chmod', ['755', dir]);
  const n = args.clients + 2;
  const users = Array.from({ length: n }, (_, i) => ({ u: `u${i}`, p: `pw-${i}-${Math.random().toString(36).slice(2)}` }));
  const results: Record<string, unknown>[] = [];
  if (args.brokers.includes('ts')) {
    process.stderr.write(`storm: hashing ${n} bcrypt passwords ... `);
    const lines = users.map((x) => `${x.u}:${bcrypt.hashSync(x.p, 10)}`);
    writeFileSync(path.join(dir, 'passwd.bcrypt'), lines.join('\n') + '\n', { mode: 0o644 });
    process.stderr.write('done\n');
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
