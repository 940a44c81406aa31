#!/usr/bin/env node
// The cost of the metrics listener (issue 18) in instructions, which the machine's load
// does not move: runs the built broker (dist/) under valgrind's callgrind, single-threaded
// so that V8 compiles on the main thread and the count repeats, drives a fixed amount of
// work and prints the instructions the broker executed for it (callgrind_control zeroes
// the count before the work and dumps it after).
//
//   node scripts/metrics-cost.mjs qos0 on|off [N]     1:1 QoS 0, N messages a round
//   node scripts/metrics-cost.mjs fanout on|off [N]   1 publisher, 100 subscribers
//   node scripts/metrics-cost.mjs scrape on [N]       N scrapes of /metrics (CONNS idle
//                                                     clients connected, WARM scrapes first)
//   node scripts/metrics-cost.mjs tick on|off [MS]    the broker idling for MS ms
//   node scripts/metrics-cost.mjs idle on|off [N]     N clients connect (50 at a time, keep
//                                                     alive 60), then all close; no scrape
//
// Flows are lock-step, so that every run reads the same batches: a chunk of messages (100
// for qos0, 10 for fanout) is written at once and the next one once every copy arrived;
// three rounds of N warm up, three are counted. PORT (default 27000) and PORT+1 are used.
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Conn, USER_LINE, measuredInstructions, pkt, sleep, startUnderCallgrind, str, waitForBroker } from './callgrind-mqtt.mjs';

const [scenario, onOff, nArg] = process.argv.slice(2);
if (!['qos0', 'fanout', 'scrape', 'tick', 'idle'].includes(scenario) || !['on', 'off'].includes(onOff)) {
  console.error('usage: node scripts/metrics-cost.mjs qos0|fanout|scrape|tick|idle on|off [N]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 27000);
const metrics = onOff === 'on';
const N = Number(nArg ?? { qos0: 20000, fanout: 1000, scrape: 10, tick: 10000, idle: 1000 }[scenario]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-cost-'));
const conf = path.join(dir, 'broker.conf');
fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${USER_LINE}` + (metrics ? `listener ${port + 1} 127.0.0.1\nprotocol http\n` : ''));
const { broker, control, stderr } = startUnderCallgrind(root, dir, conf);
const PUBLISH = pkt(0x30, Buffer.concat([str('bench/t'), Buffer.alloc(64, 0x61)]));

async function openMany(n, prefix) {
  const all = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(Conn.open(port, `${prefix}${j}`));
    all.push(...(await Promise.all(batch)));
  }
  return all;
}

const scrape = () => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port: port + 1, path: '/metrics', agent: false }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject);
});

let lost = 0;
async function round(pub, subs, chunkSize) {
  const chunk = Buffer.concat(Array.from({ length: chunkSize }, () => PUBLISH));
  for (let sent = 0; sent < N; sent += chunkSize) {
    const want = chunkSize * subs.length;
    let got = 0, last = -1, done;
    const all = new Promise((r) => (done = r));
    // A copy that never comes (it should not happen) ends the chunk after 5 s, counted.
    const stall = setInterval(() => { if (got === last) { lost += want - got; done(); } last = got; }, 5000);
    for (const s of subs) s.onPacket = (t) => { if (t === 0x30 && ++got === want) done(); };
    pub.sock.write(chunk);
    await all;
    clearInterval(stall);
  }
}

async function measure(work) {
  control('-z');
  const t0 = Date.now();
  const units = await work();
  control('-d', 'measured');
  return { units, wallMs: Date.now() - t0 };
}

try {
  await waitForBroker(port, stderr);
  let m;
  if (scenario === 'qos0' || scenario === 'fanout') {
    const subs = await openMany(scenario === 'qos0' ? 1 : 100, 's');
    for (const s of subs) await s.subscribe('bench/t');
    const [pub] = await openMany(1, 'pub');
    const chunkSize = scenario === 'qos0' ? 100 : 10;
    for (let i = 0; i < 3; i++) await round(pub, subs, chunkSize);
    await sleep(300);
    m = await measure(async () => { for (let i = 0; i < 3; i++) await round(pub, subs, chunkSize); return 3 * N * subs.length; });
  } else if (scenario === 'scrape') {
    await openMany(Number(process.env.CONNS ?? 100), 's');
    for (let i = 0; i < Number(process.env.WARM ?? 0); i++) await scrape();
    await sleep(300);
    m = await measure(async () => { for (let i = 0; i < N; i++) await scrape(); return N; });
  } else if (scenario === 'idle') {
    // Each round: N connects, then all closed (and their sessions gone) before the next.
    const wave = async (r) => {
      const conns = await openMany(N, `r${r}-`);
      for (const c of conns) c.sock.destroy();
      // Time for the broker (50 times slower under callgrind) to see every close.
      await sleep(Math.max(2000, N * 5));
    };
    for (let r = 0; r < 3; r++) await wave(r);
    m = await measure(async () => { for (let r = 3; r < 6; r++) await wave(r); return 3 * N; });
  } else {
    m = await measure(async () => { await sleep(N); return N / 1000; });
  }
  await sleep(500);
  const { ir, file } = measuredInstructions(dir);
  const unit = { qos0: 'message', fanout: 'delivery', scrape: 'scrape', tick: 'second', idle: 'connect' }[scenario];
  console.log(`${scenario} metrics ${onOff}: ${ir} instructions, ${Math.round(ir / m.units)} per ${unit} (${m.units} ${unit}s, ${m.wallMs} ms${lost ? `, ${lost} lost` : ''}) ${file}`);
} finally {
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
}
