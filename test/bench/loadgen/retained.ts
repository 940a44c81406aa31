// Retained messages: one client stores N retained messages, then a `#` subscriber receives
// them all. The rate is retained deliveries per second after the SUBSCRIBE.
import { performance } from 'node:perf_hooks';
import type { GenResult, MarkMessage, RetainedSpec } from '../protocol.js';
import { MqttConn } from './conn.js';
import { publishTemplate } from './packets.js';
import { sleep } from './flow.js';

const BATCH = 1000;
const STALL_MS = 3000;

export async function runRetained(spec: RetainedSpec, mark: (name: MarkMessage['name']) => void): Promise<GenResult> {
  mark('baseline');
  const pub = await MqttConn.connect({ port: spec.port, clientId: 'bench-rp' });
  const t0 = performance.now();
  for (let i = 0; i < spec.messages; i += BATCH) {
    const parts: Buffer[] = [];
    for (let j = i; j < Math.min(spec.messages, i + BATCH); j++) {
      parts.push(publishTemplate(`ret/${Math.floor(j / 1000)}/${j % 1000}`, spec.payload, 0, 0, true).buf);
    }
    if (!pub.socket.write(Buffer.concat(parts))) await new Promise((r) => pub.socket.once('drain', r));
  }
  await pub.ping(60000);
  const storeSeconds = (performance.now() - t0) / 1000;
  await sleep(500);
  mark('settled');

  const sub = await MqttConn.connect({ port: spec.port, clientId: 'bench-rs' });
  let received = 0;
  let firstMs = -1;
  let lastAt = performance.now();
  sub.onPublish = (_buf, _p, _end, retain) => {
    if (!retain) return;
    received++;
    lastAt = MqttConn.chunkTime;
  };
  mark('start');
  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  sub.onChunk = () => {
    if (firstMs < 0 && received > 0) firstMs = MqttConn.chunkTime - t1;
  };
  void sub.subscribe(['#'], 0).catch(() => {});
  while (received < spec.messages && performance.now() - Math.max(lastAt, t1) < STALL_MS) await sleep(5);
  const end = received >= spec.messages ? lastAt : performance.now();
  const seconds = (end - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  return {
    rate: received / seconds,
    unit: 'msg/s',
    genCpu: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    lost: spec.messages - received,
    extra: {
      retained: spec.messages,
      received,
      storedPerSec: Math.round(spec.messages / storeSeconds),
      firstMs: Math.round(firstMs * 10) / 10,
    },
  };
}
