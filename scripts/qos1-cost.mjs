#!/usr/bin/env node
// Instructions per QoS 1 message under valgrind's callgrind, which the machine's load does
// not move (issue 13: before and after the core contract): a persistent QoS 1 subscriber
// that acknowledges every message, a publisher writing lock-step chunks of 100 QoS 1
// PUBLISH (the next once every PUBACK and copy arrived); three rounds of N warm up, three
// are counted. PERSIST=1 turns persistence on (the journal's user-space work).
//
//   node scripts/qos1-cost.mjs [ROOT] [N] [PORT]    ROOT: a checkout with dist/ built (default: this one)
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const [rootArg, nArg, portArg] = process.argv.slice(2);
const root = path.resolve(rootArg ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const N = Number(nArg ?? 10000);
const port = Number(portArg ?? 27100);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'q1cost-'));
const out = path.join(dir, 'callgrind.out');
const conf = path.join(dir, 'broker.conf');
fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nuser root\n` + (process.env.PERSIST ? `persistence true\npersistence_location ${dir}/\n` : ""));
const broker = spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', path.join(root, 'bin/ts-mosquitto.js'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = ''; broker.stderr.on('data', (d) => (stderr += d));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const control = (...a) => execFileSync('callgrind_control', [...a, String(broker.pid)], { stdio: 'ignore' });
const remLen = (n) => { const b = []; do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 128; b.push(d); } while (n > 0); return Buffer.from(b); };
const pkt = (h, body) => Buffer.concat([Buffer.from([h]), remLen(body.length), body]);
const str = (s) => { const b = Buffer.from(s); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
const u16 = (n) => Buffer.from([n >> 8, n & 255]);
class Conn {
  constructor(sock) { this.sock = sock; this.buf = Buffer.alloc(0); this.waiters = []; this.onPacket = null; sock.setNoDelay(true); sock.on('data', (d) => this.data(d)); }
  static open(id, clean) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => { const c = new Conn(s); c.expect(0x20).then(() => resolve(c)); s.write(pkt(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, clean ? 2 : 0, 0, 60]), str(id)]))); });
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
      const h = this.buf[off]; const body = this.buf.subarray(i, i + len);
      off = i + len;
      this.onPacket?.(h, body);
      const w = this.waiters.findIndex((x) => x.type === (h & 0xf0));
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve();
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }
  expect(type) { return new Promise((resolve) => this.waiters.push({ type, resolve })); }
}
let nextId = 1;
async function round(pub, sub) {
  for (let sent = 0; sent < N; sent += 100) {
    let acks = 0, got = 0, done; const all = new Promise((r) => (done = r));
    pub.onPacket = (h) => { if ((h & 0xf0) === 0x40 && ++acks === 100 && got === 100) done(); };
    sub.onPacket = (h, body) => {
      if ((h & 0xf0) !== 0x30) return;
      const tl = body.readUInt16BE(0); const id = body.readUInt16BE(2 + tl);
      sub.sock.write(pkt(0x40, u16(id)));
      if (++got === 100 && acks === 100) done();
    };
    const chunk = [];
    for (let k = 0; k < 100; k++) { const id = nextId; nextId = nextId === 65535 ? 1 : nextId + 1; chunk.push(pkt(0x32, Buffer.concat([str('bench/t'), u16(id), Buffer.alloc(64, 0x61)]))); }
    pub.sock.write(Buffer.concat(chunk));
    await all;
  }
}
try {
  for (let i = 0; ; i++) { try { (await Conn.open('probe', true)).sock.destroy(); break; } catch { if (i > 3600) throw new Error(stderr); await sleep(500); } }
  const sub = await Conn.open('sub', false);
  const sp = sub.expect(0x90); sub.sock.write(pkt(0x82, Buffer.concat([u16(1), str('bench/t'), Buffer.from([1])]))); await sp;
  const pub = await Conn.open('pub', true);
  for (let i = 0; i < 3; i++) await round(pub, sub);
  await sleep(300);
  control('-z'); const t0 = Date.now();
  for (let i = 0; i < 3; i++) await round(pub, sub);
  control('-d', 'measured');
  await sleep(500);
  const dump = fs.readdirSync(dir).find((f) => f.startsWith('callgrind.out.') && /^desc: Trigger: .*measured/m.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  const text = fs.readFileSync(path.join(dir, dump), 'utf8');
  const ir = Number((/^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text))[1]);
  console.log(`${root}: ${ir} instructions, ${Math.round(ir / (3 * N))} per QoS 1 message (${3 * N}, ${Date.now() - t0} ms) ${path.join(dir, dump)}`);
} finally { broker.kill('SIGTERM'); await new Promise((r) => broker.once('exit', r)); }
