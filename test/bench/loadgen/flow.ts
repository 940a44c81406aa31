// Message flow scenarios: a closed loop (each publisher keeps at most `window` messages in
// flight end to end, i.e. published but not yet delivered to every subscriber) or an open
// loop at a fixed rate. Messages are sent in one write per publisher per event-loop turn.
import { performance } from 'node:perf_hooks';
import type { FlowSpec, GenResult, MarkMessage } from '../protocol.js';
import { MqttConn } from './conn.js';
import { LatencyHistogram } from './histogram.js';
import { STAMP_PUBLISHER, STAMP_TIME, MIN_PAYLOAD } from './packets.js';
import { type Publisher, buildTopology } from './topology.js';

/** Packet identifiers in use per publisher stay well inside 1..65535. MQTT-2.3.1-2 */
const MAX_UNACKED = 60000;
/** After this long without a single delivery, outstanding messages are counted as lost. */
const STALL_MS = 2000;
/** Open loop: stop adding load when the broker is this far behind. */
const OPEN_LOOP_BACKLOG = 20000;

export async function runFlow(spec: FlowSpec, mark: (name: MarkMessage['name']) => void): Promise<GenResult> {
  const topo = await buildTopology(spec);
  const pubs = topo.publishers;
  const hist = new LatencyHistogram();
  const qos = spec.qos;
  let running = true;
  let measuring = false;
  let delivered = 0;
  let sent = 0;
  let lost = 0;
  let pumpScheduled = false;

  const onPublish = (buf: Buffer, p: number, end: number): void => {
    if (end - p < MIN_PAYLOAD) return;
    const pub = pubs[buf.readUInt32LE(p + STAMP_PUBLISHER)];
    if (pub === undefined) return;
    pub.delivered++;
    delivered++;
    if (measuring) hist.record(MqttConn.chunkTime - buf.readDoubleLE(p + STAMP_TIME));
  };

  const send = (pub: Publisher, k: number, now: number): void => {
    const tpls = pub.templates;
    let total = 0;
    for (let i = 0, n = pub.next; i < k; i++) {
      total += tpls[n]!.buf.length;
      n = n + 1 === tpls.length ? 0 : n + 1;
    }
    const out = Buffer.allocUnsafe(total);
    let o = 0;
    for (let i = 0; i < k; i++) {
      const tpl = tpls[pub.next]!;
      pub.next = pub.next + 1 === tpls.length ? 0 : pub.next + 1;
      tpl.buf.copy(out, o);
      out.writeDoubleLE(now, o + tpl.payloadOffset + STAMP_TIME);
      if (qos > 0) {
        const id = pub.nextId;
        pub.nextId = id === 65535 ? 1 : id + 1;
        out[o + tpl.idOffset] = id >> 8;
        out[o + tpl.idOffset + 1] = id & 0xff;
      }
      o += tpl.buf.length;
    }
    pub.conn.socket.write(out);
    pub.sent += k;
    if (qos > 0) pub.unacked += k;
    sent += k;
  };

  // Closed loop: refill a publisher once a quarter of its window is free, so that writes
  // stay batched instead of one message per delivery.
  const refill = Math.max(1, Math.floor(spec.window / 4));
  const pump = (): void => {
    pumpScheduled = false;
    if (!running || spec.rate !== undefined) return;
    const now = performance.now();
    for (const pub of pubs) {
      const outstanding = pub.sent * pub.fanout - pub.delivered;
      let k = Math.min(spec.window, Math.floor((spec.window * pub.fanout - outstanding) / pub.fanout));
      if (qos > 0) k = Math.min(k, MAX_UNACKED - pub.unacked);
      if (k >= refill || (k > 0 && outstanding <= 0)) send(pub, k, now);
    }
  };
  const schedulePump = (): void => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(pump);
  };

  for (const sub of topo.subscribers) {
    sub.onPublish = onPublish;
    sub.onChunk = schedulePump;
  }
  for (const pub of pubs) {
    pub.conn.onComplete = () => {
      pub.unacked--;
    };
    pub.conn.onChunk = schedulePump;
  }

  const timers: NodeJS.Timeout[] = [];
  const startedAt = performance.now();
  if (spec.rate !== undefined) {
    // Open loop: a 1 ms tick sends whatever is due since the start (bursts of rate/1000).
    const rate = spec.rate;
    timers.push(
      setInterval(() => {
        if (!running) return;
        const now = performance.now();
        const due = Math.floor(((now - startedAt) * rate) / 1000) - sent;
        if (due <= 0) return;
        const pub = pubs[0]!;
        if (pub.sent * pub.fanout - pub.delivered > OPEN_LOOP_BACKLOG) return;
        send(pub, due, now);
      }, 1),
    );
  } else {
    pump();
  }

  // Stall detection keeps a closed loop alive if a broker drops QoS 0 messages.
  let lastDelivered = -1;
  let stalledSince = performance.now();
  timers.push(
    setInterval(() => {
      const now = performance.now();
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        stalledSince = now;
        return;
      }
      if (now - stalledSince < STALL_MS) return;
      for (const pub of pubs) {
        const outstanding = pub.sent * pub.fanout - pub.delivered;
        if (outstanding > 0) {
          lost += outstanding;
          pub.delivered += outstanding;
        }
      }
      stalledSince = now;
      schedulePump();
    }, 250),
  );

  await sleep(spec.warmupMs);
  const d0 = delivered;
  const s0 = sent;
  const lost0 = lost;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  mark('start');
  await sleep(spec.measureMs);
  mark('end');
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  running = false;
  for (const t of timers) clearInterval(t);

  const rate = (delivered - d0) / seconds;
  const extra: Record<string, number | string> = { ...topo.extra, publishedPerSec: Math.round((sent - s0) / seconds) };
  if (spec.payload >= 1024) extra.mbPerSec = Math.round((rate * spec.payload) / 1e5) / 10;
  return {
    rate,
    unit: 'msg/s',
    p50Ms: hist.percentile(50),
    p99Ms: hist.percentile(99),
    genCpu: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    lost: lost - lost0,
    extra,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
