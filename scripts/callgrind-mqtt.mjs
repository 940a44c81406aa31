// What the callgrind cost scripts (metrics-cost.mjs, cluster-cost.mjs, qos1-cost.mjs) share:
// raw MQTT 3.1.1 packets and a client that reads them, the broker started under valgrind's
// callgrind (single-threaded V8, so that the count repeats), and the instructions of the
// dump triggered around the measured work.
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const remLen = (n) => { const b = []; do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 128; b.push(d); } while (n > 0); return Buffer.from(b); };
/** A packet: fixed header byte `h`, remaining length, `body`. */
export const pkt = (h, body) => Buffer.concat([Buffer.from([h]), remLen(body.length), body]);
/** An MQTT string: two length bytes, then the UTF-8. */
export const str = (s) => { const b = Buffer.from(s); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
export const u16 = (n) => Buffer.from([n >> 8, n & 255]);

/** As root the broker would drop to the mosquitto user, which callgrind_control cannot reach. */
export const USER_LINE = process.getuid?.() === 0 ? 'user root\n' : '';

/** A raw MQTT 3.1.1 client: onPacket(type, body) sees every packet; expect(type) waits for one. */
export class Conn {
  constructor(sock) { this.sock = sock; this.buf = Buffer.alloc(0); this.waiters = []; this.onPacket = null; sock.on('data', (d) => this.data(d)); }
  static open(port, id, { clean = true, noDelay = false } = {}) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        if (noDelay) s.setNoDelay(true);
        const c = new Conn(s);
        c.expect(0x20).then(() => resolve(c));
        s.write(pkt(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, clean ? 2 : 0, 0, 60]), str(id)])));
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
      const body = this.buf.subarray(i, i + len);
      off = i + len;
      this.onPacket?.(type, body);
      const w = this.waiters.findIndex((x) => x.type === type);
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve();
    }
    // A copy of the rest: a body handed to onPacket must not see its chunk reused.
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }
  expect(type) { return new Promise((resolve) => this.waiters.push({ type, resolve })); }
  async subscribe(topic, qos = 0) { const p = this.expect(0x90); this.sock.write(pkt(0x82, Buffer.concat([u16(1), str(topic), Buffer.from([qos])]))); await p; }
}

/**
 * Starts bin/ts-mosquitto.js of `root` with `conf` under callgrind, its profile in `dir`;
 * returns the process, callgrind_control bound to it, and its stderr so far.
 */
export function startUnderCallgrind(root, dir, conf, { nodeArgs = [], valgrindArgs = [] } = {}) {
  const broker = spawn(
    'valgrind',
    ['--tool=callgrind', '--smc-check=all-non-file', ...valgrindArgs, `--callgrind-out-file=${path.join(dir, 'callgrind.out')}`, process.execPath, '--single-threaded', ...nodeArgs, path.join(root, 'bin/ts-mosquitto.js'), '-c', conf],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  broker.stderr.on('data', (d) => (stderr += d));
  const control = (...args) => execFileSync('callgrind_control', [...args, String(broker.pid)], { stdio: 'ignore' });
  return { broker, control, stderr: () => stderr };
}

/** Waits until the broker under callgrind accepts an MQTT connection (its start is slow). */
export async function waitForBroker(port, stderr) {
  for (let i = 0; ; i++) {
    try { (await Conn.open(port, 'probe')).sock.destroy(); return; } catch { if (i > 3600) throw new Error(`broker did not start: ${stderr()}`); await sleep(500); }
  }
}

/** Instructions of the dump whose trigger was `callgrind_control -d measured`, and its file. */
export function measuredInstructions(dir) {
  const dump = fs.readdirSync(dir).find((f) => f.startsWith('callgrind.out.') && /^desc: Trigger: .*measured/m.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  const text = fs.readFileSync(path.join(dir, dump), 'utf8');
  return { ir: Number((/^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text))[1]), file: path.join(dir, dump) };
}
