#!/usr/bin/env node
// Instructions per QoS 1 message under valgrind's callgrind, which the machine's load does
// not move (issue 13: before and after the core contract): a persistent QoS 1 subscriber
// that acknowledges every message, a publisher writing lock-step chunks of 100 QoS 1
// PUBLISH (the next once every PUBACK and copy arrived); three rounds of N warm up, three
// are counted. PERSIST=1 turns persistence on (the journal's user-space work).
//
//   node scripts/qos1-cost.mjs [ROOT] [N] [PORT]    ROOT: a checkout with dist/ built (default: this one)
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Conn, USER_LINE, measuredInstructions, pkt, sleep, startUnderCallgrind, str, u16, waitForBroker } from './callgrind-mqtt.mjs';

const [rootArg, nArg, portArg] = process.argv.slice(2);
const root = path.resolve(rootArg || path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const N = Number(nArg ?? 10000);
const port = Number(portArg ?? 27100);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'q1cost-'));
const conf = path.join(dir, 'broker.conf');
fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${USER_LINE}` + (process.env.PERSIST ? `persistence true\npersistence_location ${dir}/\n` : ''));
const { broker, control, stderr } = startUnderCallgrind(root, dir, conf);

let nextId = 1;
async function round(pub, sub) {
  for (let sent = 0; sent < N; sent += 100) {
    let acks = 0, got = 0, done;
    const all = new Promise((r) => (done = r));
    pub.onPacket = (type) => { if (type === 0x40 && ++acks === 100 && got === 100) done(); };
    sub.onPacket = (type, body) => {
      if (type !== 0x30) return;
      const id = body.readUInt16BE(2 + body.readUInt16BE(0));
      sub.sock.write(pkt(0x40, u16(id)));
      if (++got === 100 && acks === 100) done();
    };
    const chunk = [];
    for (let k = 0; k < 100; k++) {
      chunk.push(pkt(0x32, Buffer.concat([str('bench/t'), u16(nextId), Buffer.alloc(64, 0x61)])));
      nextId = nextId === 65535 ? 1 : nextId + 1;
    }
    pub.sock.write(Buffer.concat(chunk));
    await all;
  }
}

try {
  await waitForBroker(port, stderr);
  const sub = await Conn.open(port, 'sub', { clean: false, noDelay: true });
  await sub.subscribe('bench/t', 1);
  const pub = await Conn.open(port, 'pub', { noDelay: true });
  for (let i = 0; i < 3; i++) await round(pub, sub);
  await sleep(300);
  control('-z');
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) await round(pub, sub);
  control('-d', 'measured');
  const wallMs = Date.now() - t0;
  await sleep(500);
  const { ir, file } = measuredInstructions(dir);
  console.log(`${root}: ${ir} instructions, ${Math.round(ir / (3 * N))} per QoS 1 message (${3 * N}, ${wallMs} ms) ${file}`);
} finally {
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
}
