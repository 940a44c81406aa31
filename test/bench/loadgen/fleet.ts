// idle-100k and wake-100k (issue 17): a fleet of connections spread over holder processes
// (holder.ts), each started under its own `ulimit -n`, since one process may not open
// 100,000 sockets where the hard limit is lower. The runner samples the broker at the marks:
// baseline .. settled gives RSS per connection, start .. idleEnd the broker's CPU while the
// fleet only idles (and pings), start .. end the whole hold or the wake.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FleetSpec, GenResult, HolderCommand, HolderReply, MarkMessage } from '../protocol.js';
import { MqttConn } from './conn.js';
import { runFlow, sleep } from './flow.js';
import { LatencyHistogram } from './histogram.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'holder.js');

interface Holder {
  child: ChildProcess;
  from: number;
  to: number;
  /** Replies not yet taken by `ask`, in order. */
  inbox: HolderReply[];
  waiter: ((r: HolderReply) => void) | undefined;
}

function startHolder(from: number, to: number, fdLimit: number): Holder {
  // exec keeps the IPC channel's descriptor (NODE_CHANNEL_FD) across the shell.
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, HOLDER], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const h: Holder = { child, from, to, inbox: [], waiter: undefined };
  child.on('message', (r: HolderReply) => {
    const w = h.waiter;
    if (w !== undefined) {
      h.waiter = undefined;
      w(r);
    } else h.inbox.push(r);
  });
  return h;
}

function ask<T extends HolderReply['op']>(h: Holder, cmd: HolderCommand, op: T, timeoutMs: number): Promise<Extract<HolderReply, { op: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`holder ${h.from}..${h.to}: no '${op}' within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const take = (r: HolderReply): void => {
      clearTimeout(timer);
      if (r.op === 'error') reject(new Error(r.message));
      else if (r.op !== op) reject(new Error(`holder ${h.from}..${h.to}: '${r.op}' instead of '${op}'`));
      else resolve(r as Extract<HolderReply, { op: T }>);
    };
    const queued = h.inbox.shift();
    if (queued !== undefined) take(queued);
    else h.waiter = take;
    h.child.once('exit', (code) => reject(new Error(`holder ${h.from}..${h.to} exited (${code})`)));
    h.child.send(cmd);
  });
}

async function counts(holders: Holder[]): Promise<{ alive: number; pingresps: number; pubacks: number; closed: number }> {
  const all = await Promise.all(holders.map((h) => ask(h, { op: 'count' }, 'count', 30000)));
  return all.reduce(
    (a, r) => ({ alive: a.alive + r.alive, pingresps: a.pingresps + r.pingresps, pubacks: a.pubacks + r.pubacks, closed: a.closed + r.closed }),
    { alive: 0, pingresps: 0, pubacks: 0, closed: 0 },
  );
}

export async function runFleet(spec: FleetSpec, mark: (name: MarkMessage['name']) => void): Promise<GenResult> {
  const n = spec.connections;
  const holders: Holder[] = [];
  for (let from = 0; from < n; from += spec.perHolder) holders.push(startHolder(from, Math.min(n, from + spec.perHolder), spec.holderFdLimit));
  const cpu0 = process.cpuUsage();
  try {
    mark('baseline');
    const perHolder = Math.max(1, Math.ceil(spec.concurrency / holders.length));
    const t0 = performance.now();
    const connected = await Promise.all(
      holders.map((h) =>
        ask(
          h,
          { op: 'connect', port: spec.port, from: h.from, to: h.to, prefix: `fleet-${spec.mode}-`, keepalive: spec.keepalive, concurrency: perHolder },
          'connected',
          30 * 60 * 1000,
        ),
      ),
    );
    const connectSeconds = (performance.now() - t0) / 1000;
    const hist = new LatencyHistogram();
    let accepted = 0;
    let refused = 0;
    let earlyPings = 0;
    for (const c of connected) {
      accepted += c.accepted;
      refused += c.refused;
      earlyPings += c.earlyPings;
      for (const l of c.latencies) hist.record(l);
    }
    await sleep(2000);
    mark('settled');
    const extra: GenResult['extra'] = {
      connections: n,
      accepted,
      refused,
      connectPerSec: Math.round(accepted / connectSeconds),
      connectP50Ms: hist.percentile(50) ?? 0,
      connectP99Ms: hist.percentile(99) ?? 0,
      earlyPings,
    };
    const result =
      spec.mode === 'idle' ? await hold(spec, holders, mark, extra) : await wake(spec, holders, mark, extra);
    const c = await counts(holders);
    extra.alive = c.alive;
    extra.pingresps = c.pingresps;
    extra.pubacks = c.pubacks;
    const cpu = process.cpuUsage(cpu0);
    result.genCpu = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
    return result;
  } finally {
    for (const h of holders) {
      if (h.child.connected) h.child.send({ op: 'close' } satisfies HolderCommand);
    }
    await sleep(200);
    for (const h of holders) if (h.child.exitCode === null) h.child.kill('SIGKILL');
  }
}

/** idle-100k: hold; a quiet third, then a QoS 0 flow between two other clients; one PINGREQ each. */
async function hold(spec: FleetSpec, holders: Holder[], mark: (name: MarkMessage['name']) => void, extra: GenResult['extra']): Promise<GenResult> {
  mark('start');
  const t0 = performance.now();
  // Each connection pings once, spread over most of the hold (keep alive 60 s: a device
  // idles for a minute, then pings, as a fleet does).
  const pinged = Promise.all(holders.map((h) => ask(h, { op: 'ping', spreadMs: spec.holdMs * 0.8 }, 'pinged', spec.holdMs * 2)));
  const quietMs = spec.holdMs / 3;
  await sleep(quietMs);
  mark('idleEnd');
  const flowMs = spec.holdMs - quietMs;
  const flow = spec.flowRate <= 0 ? undefined : await runFlow(
    {
      kind: 'flow',
      port: spec.port,
      qos: 0,
      payload: 64,
      topology: { kind: 'pairs', pairs: 1 },
      window: 1000,
      rate: spec.flowRate,
      warmupMs: Math.min(1000, flowMs / 4),
      measureMs: Math.max(500, flowMs - Math.min(1000, flowMs / 4) - 1500),
    },
    () => {},
  );
  const pings = (await pinged).reduce((a, r) => a + r.sent, 0);
  const left = spec.holdMs - (performance.now() - t0);
  if (left > 0) await sleep(left);
  // Let the last PINGRESPs arrive before counting.
  await sleep(1000);
  mark('end');
  extra.pings = pings + Number(extra.earlyPings);
  if (flow !== undefined) {
    extra.flowRate = Math.round(flow.rate);
    if (flow.lost) extra.flowLost = flow.lost;
  }
  return { rate: Number(extra.connectPerSec), unit: 'conn/s', p50Ms: flow?.p50Ms, p99Ms: flow?.p99Ms, genCpu: 0, extra };
}

/** wake-100k: every connection publishes one QoS 1 message within wakeMs; a `#` subscriber receives them. */
async function wake(spec: FleetSpec, holders: Holder[], mark: (name: MarkMessage['name']) => void, extra: GenResult['extra']): Promise<GenResult> {
  const sub = await MqttConn.connect({ port: spec.port, clientId: 'fleet-wake-sub', keepalive: 60 });
  await sub.subscribe(['#'], 1);
  let delivered = 0;
  let lastAt = 0;
  sub.onPublish = () => {
    delivered++;
    lastAt = performance.now();
  };
  mark('start');
  const t0 = performance.now();
  const woke = await Promise.all(
    holders.map((h) => ask(h, { op: 'wake', spreadMs: spec.wakeMs, from: h.from, topicPrefix: 'fleet/wake/', payload: 32 }, 'woke', spec.wakeMs + 60000)),
  );
  const published = woke.reduce((a, r) => a + r.sent, 0);
  const publishedMs = performance.now() - t0;
  // Every message delivered, or nothing more for 5 s.
  while (delivered < published) {
    const before = delivered;
    await sleep(5000);
    if (delivered === before) break;
  }
  mark('end');
  sub.disconnect();
  const seconds = ((lastAt > 0 ? lastAt : performance.now()) - t0) / 1000;
  extra.published = published;
  extra.publishSeconds = Math.round(publishedMs / 100) / 10;
  extra.delivered = delivered;
  extra.wakeSeconds = Math.round(seconds * 10) / 10;
  return { rate: delivered / seconds, unit: 'msg/s', genCpu: 0, lost: published - delivered, extra };
}
