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
//
// Flows are lock-step, so that every run reads the same batches: a chunk of messages (100
// for qos0, 10 for fanout) is written at once and the next one once every copy arrived;
// three rounds of N warm up, three are counted. PORT (default 27000) and PORT+1 are used.
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [scenario, onOff, nArg] = process.argv.slice(2);
if (!['qos0', 'fanout', 'scrape', 'tick'].includes(scenario) || !['on', 'off'].includes(onOff)) {
  console.error('usage: node scripts/metrics-cost.mjs qos0|fanout|scrape|tick on|off [N]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 27000);
const metrics = onOff === 'on';
const N = Number(nArg ?? { qos0: 20000, fanout: 1000, scrape: 10, tick: 10000 }[scenario]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-cost-'));
const out = path.join(dir, 'callgrind.out');
const conf = path.join(dir, 'broker.conf');
// As root the broker would drop to the mosquitto user, which callgrind_control cannot reach.
const user = process.getuid?.() === 0 ? 'user root\n' : '';
fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${user}` + (metrics ? `listener ${port + 1} 127.0.0.1\nprotocol http\n` : ''));
const broker = spawn(
  'valgrind',
  ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', path.join(root, 'bin/ts-mosquitto.js'), '-c', conf],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let stderr = '';
broker.stderr.on('data', (d) => (stderr += d));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const control = (...args) => execFileSync('callgrind_control', [...args, String(broker.pid)], { stdio: 'ignore' });

const remLen = (n) => { const b = []; do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 128; b.push(d); } while (n > 0); return Buffer.from(b); };
const pkt = (h, body) => Buffer.concat([Buffer.from([h]), remLen(body.length), body]);
const str = (s) => { const b = Buffer.from(s); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
const PUBLISH = pkt(0x30, Buffer.concat([str('bench/t'), Buffer.alloc(64, 0x61)]));

class Conn {
  constructor(sock) { this.sock = sock; this.buf = Buffer.alloc(0); this.waiters = []; this.onPacket = null; sock.on('data', (d) => this.data(d)); }
  static open(id) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        const c = new Conn(s);
        c.expect(0x20).then(() => resolve(c));
        s.write(pkt(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 2, 0, 60]), str(id)])));
      });
      s.on('error', reject);
    });
  }
  data(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    for (;;) {
      if (this.buf.length - off < 2) break;
      let mul = 1, len = 0, i = off + 1, b;
      do { if (i >= this.buf.length) { len = -1; break; } b = this.buf[i++]; len += (b & 127) * mul; mul *= 128; } while (b & 128);
      if (len < 0 || this.buf.length - i < len) break;
      const type = this.buf[off] & 0xf0;
      off = i + len;
      this.onPacket?.(type);
      const w = this.waiters.findIndex((x) => x.type === type);
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve();
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
  expect(type) { return new Promise((resolve) => this.waiters.push({ type, resolve })); }
  async subscribe(topic) { const p = this.expect(0x90); this.sock.write(pkt(0x82, Buffer.concat([Buffer.from([0, 1]), str(topic), Buffer.from([0])]))); await p; }
}

async function openMany(n, prefix) {
  const all = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(Conn.open(`${prefix}${j}`));
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
  for (let i = 0; ; i++) {
    try { (await Conn.open('probe')).sock.destroy(); break; } catch { if (i > 3600) throw new Error(`broker did not start: ${stderr}`); await sleep(500); }
  }
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
  } else {
    m = await measure(async () => { await sleep(N); return N / 1000; });
  }
  await sleep(500);
  const dump = fs.readdirSync(dir).find((f) => f.startsWith('callgrind.out.') && /^desc: Trigger: .*measured/m.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  const text = fs.readFileSync(path.join(dir, dump), 'utf8');
  const ir = Number((/^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text))[1]);
  const unit = { qos0: 'message', fanout: 'delivery', scrape: 'scrape', tick: 'second' }[scenario];
  console.log(`${scenario} metrics ${onOff}: ${ir} instructions, ${Math.round(ir / m.units)} per ${unit} (${m.units} ${unit}s, ${m.wallMs} ms${lost ? `, ${lost} lost` : ''}) ${path.join(dir, dump)}`);
} finally {
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
}
