#!/usr/bin/env node
// What `cluster true` costs on a node's local path (issue 15, the `cluster-local` bench
// scenario) in instructions, which the machine's load does not move: runs the built broker
// (dist/) under valgrind's callgrind, single-threaded so that V8 compiles on the main
// thread and the count repeats, drives 1:1 QoS 0 on bench/p/0 (64-byte payload, as the
// bench) and prints the instructions the broker executed per message.
//
//   node scripts/cluster-cost.mjs off [N]      the node alone (the bench's qos0)
//   node scripts/cluster-cost.mjs redis [N]    with the Redis plugin (redis_store none), cluster false
//   node scripts/cluster-cost.mjs on [N]       cluster true beside a second node (not under
//                                              callgrind) that has a route of its own, other/#
//
// `redis` and `on` start a redis-server of their own on a free port (killed after). The
// flow is lock-step, so that every run reads the same batches: 100 messages are written at
// once and the next 100 once all arrived; three rounds of N (default 20000) warm up, three
// are counted (callgrind_control -z before, -d after). PERFMAP=1 adds --perf-basic-prof
// (V8 writes /tmp/perf-<pid>.map, to name the JIT code's addresses). PORT (default 27100);
// BROKER_ROOT: another checkout's build to run (default this one's).
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Conn, USER_LINE, measuredInstructions, pkt, sleep, startUnderCallgrind, str, waitForBroker } from './callgrind-mqtt.mjs';

const [mode, nArg] = process.argv.slice(2);
if (!['off', 'redis', 'on'].includes(mode)) {
  console.error('usage: node scripts/cluster-cost.mjs off|redis|on [N]');
  process.exit(2);
}
const root = process.env.BROKER_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 27100);
const N = Number(nArg ?? 20000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-cost-'));
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function waitPort(p, what) {
  for (let i = 0; ; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(p, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (i > 1200) throw new Error(`${what} did not start`);
    await sleep(250);
  }
}

const user = USER_LINE;
let brokerConf = `listener ${port} 127.0.0.1\nallow_anonymous true\n${user}`;
let peerPort;
try {
  if (mode !== 'off') {
    const redisPort = await freePort();
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', cwd: dir });
    children.push(redis);
    await waitPort(redisPort, 'redis-server');
    brokerConf += `redis_port ${redisPort}\nredis_store none\n`;
    if (mode === 'on') {
      brokerConf += 'cluster true\ncluster_node_name cost-a\n';
      peerPort = await freePort();
      const peerConf = path.join(dir, 'peer.conf');
      fs.writeFileSync(peerConf, `listener ${peerPort} 127.0.0.1\nallow_anonymous true\n${user}redis_port ${redisPort}\nredis_store none\ncluster true\ncluster_node_name cost-b\n`);
      const peer = spawn(process.execPath, [path.join(root, 'bin/ts-mosquitto.js'), '-c', peerConf], { stdio: 'ignore' });
      children.push(peer);
      await waitPort(peerPort, 'the second node');
      // As the bench: a persistent session on the second node gives it a route, other/#.
      spawnSync(process.execPath, [path.join(root, 'bin/ts-mosquitto_sub.js'), '-p', String(peerPort), '-t', 'other/#', '-q', '1', '-c', '-i', 'bench-peer', '-W', '1']);
    }
  }
  const conf = path.join(dir, 'broker.conf');
  fs.writeFileSync(conf, brokerConf);
  const { broker, control, stderr } = startUnderCallgrind(root, dir, conf, {
    nodeArgs: process.env.PERFMAP ? ['--perf-basic-prof'] : [],
    valgrindArgs: ['--dump-instr=yes'],
  });
  children.push(broker);
  const PUBLISH = pkt(0x30, Buffer.concat([str('bench/p/0'), Buffer.alloc(64, 0x61)]));

  let lost = 0;
  async function round(pub, sub, chunkSize) {
    const chunk = Buffer.concat(Array.from({ length: chunkSize }, () => PUBLISH));
    for (let sent = 0; sent < N; sent += chunkSize) {
      let got = 0, last = -1, done;
      const all = new Promise((r) => (done = r));
      const stall = setInterval(() => { if (got === last) { lost += chunkSize - got; done(); } last = got; }, 5000);
      sub.onPacket = (t) => { if (t === 0x30 && ++got === chunkSize) done(); };
      pub.sock.write(chunk);
      await all;
      clearInterval(stall);
    }
  }

  await waitForBroker(port, stderr);
  const sub = await Conn.open(port, 'sub');
  await sub.subscribe('bench/p/0');
  const pub = await Conn.open(port, 'pub');
  for (let i = 0; i < 3; i++) await round(pub, sub, 100);
  await sleep(300);
  control('-z');
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) await round(pub, sub, 100);
  control('-d', 'measured');
  const wallMs = Date.now() - t0;
  await sleep(500);
  const { ir, file } = measuredInstructions(dir);
  const units = 3 * N;
  console.log(`cluster-cost ${mode}: ${ir} instructions, ${Math.round(ir / units)} per message (${units} messages, ${wallMs} ms${lost ? `, ${lost} lost` : ''}) ${file}${process.env.PERFMAP ? ` /tmp/perf-${broker.pid}.map?` : ''}`);
} finally {
  // Last started first: the broker, the second node, then redis-server; each by its pid.
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGTERM');
    await Promise.race([new Promise((r) => c.once('exit', r)), sleep(10000)]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
