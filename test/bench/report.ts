// The run's table (Markdown, so that it can go into the README as printed) and the check of
// the targets of issues 8 (against Mosquitto and Aedes), 5 and 7 (the cost of persistence
// and of Redis, ts-mosquitto against itself) against it.
import { BROKER_LABEL, type BrokerName } from './brokers.js';
import type { GenResult } from './protocol.js';
import type { Scenario } from './scenarios.js';

export interface BrokerRun {
  scenario: string;
  broker: BrokerName;
  status: 'ok' | 'n/a' | 'error';
  note?: string;
  result?: GenResult;
  brokerCpu?: number;
  rssMb?: number;
  peakRssMb?: number;
  rssPerConnKb?: number;
  rssPerRetainedB?: number;
}

export interface PubCliTiming {
  skipped?: string;
  runs?: number;
  tsPubMs?: number;
  nodeMs?: number;
  mosquittoPubMs?: number;
  broker?: string;
}

function num(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function rate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  if (v >= 1e6) return `${num(v / 1e6, 2)}M`;
  if (v >= 1e4) return `${num(v / 1e3, 1)}k`;
  return num(v, v < 100 ? 1 : 0);
}

function ms(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  return v < 10 ? num(v, 3) : num(v, 1);
}

export function headline(s: Scenario, run: BrokerRun | undefined): number | undefined {
  if (!run || run.status !== 'ok' || !run.result) return undefined;
  return s.metric === 'p99' ? run.result.p99Ms : run.result.rate;
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  return a / b;
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined) return 'n/a';
  return r < 0.1 ? `${r.toPrecision(2)}x` : `${num(r, 2)}x`;
}

function notes(run: BrokerRun, floorKb?: number): string {
  if (run.status !== 'ok') return run.note ?? '';
  const r = run.result!;
  const out: string[] = [];
  if (run.rssPerConnKb !== undefined) {
    const above = floorKb !== undefined && (run.broker === 'ts' || run.broker === 'aedes') ? ` (${num(run.rssPerConnKb - floorKb, 2)} KB above the bare net floor)` : '';
    out.push(`${num(run.rssPerConnKb, 2)} KB RSS/conn${above}`);
  }
  if (run.rssPerRetainedB !== undefined) out.push(`${num(run.rssPerRetainedB)} B RSS/retained`);
  if (r.lost) out.push(`lost ${num(r.lost)}`);
  const e = r.extra;
  if (typeof e.storedPerSec === 'number') out.push(`stored ${rate(e.storedPerSec)}/s`);
  if (typeof e.subscribePerSec === 'number') out.push(`subscribed ${rate(e.subscribePerSec)}/s`);
  if (typeof e.mbPerSec === 'number') out.push(`${num(e.mbPerSec, 1)} MB/s`);
  if (typeof e.redisRpushPerSec === 'number') {
    out.push(`Redis RPUSH ${rate(e.redisRpushPerSec)}/s, LTRIM ${rate(Number(e.redisLtrimPerSec))}/s`);
  }
  // Issue 15: the second cluster node's CPU over the same window, and per message.
  if (typeof e.peerCpu === 'number') out.push(`second node CPU ${num(e.peerCpu)}%${r.rate > 0 ? ` (${num((e.peerCpu * 1e4) / r.rate, 2)} µs/msg)` : ''}`);
  if (typeof e.redisCpu === 'number') out.push(`redis-server CPU ${num(e.redisCpu)}%`);
  if (typeof e.redisRpushTotal === 'number') out.push(`${num(e.redisRpushTotal)} RPUSH in all`);
  if (typeof e.redisListLen === 'number') out.push(`list ${num(e.redisListLen)} long`);
  if (typeof e.alive === 'number' && typeof e.connections === 'number' && e.alive !== e.connections) {
    out.push(`${num(e.alive)} of ${num(e.connections)} still open`);
  }
  // The fleet (issue 17).
  if (typeof e.accepted === 'number' && typeof e.connections === 'number') {
    out.push(`accepted ${num(e.accepted)} of ${num(e.connections)}`);
    if (typeof e.alive === 'number') out.push(`${num(e.alive)} open at the end`);
    if (typeof e.connectP99Ms === 'number') out.push(`connect p99 ${ms(e.connectP99Ms)} ms`);
  }
  if (typeof e.pings === 'number') out.push(`PINGRESP ${num(Number(e.pingresps))} of ${num(e.pings)} PINGREQ`);
  if (typeof e.idleCpu === 'number') out.push(`broker CPU while idle ${num(e.idleCpu, 1)}%`);
  if (typeof e.flowLost === 'number') out.push(`flow lost ${num(e.flowLost)}`);
  if (typeof e.published === 'number') {
    out.push(`delivered ${num(Number(e.delivered))} of ${num(e.published)} in ${num(Number(e.wakeSeconds), 1)} s (published in ${num(Number(e.publishSeconds), 1)} s), PUBACK ${num(Number(e.pubacks))}`);
  }
  if (typeof e.scrapes === 'number') out.push(`${num(e.scrapes)} scrapes${e.scrapesFailed ? `, ${num(Number(e.scrapesFailed))} failed` : ''}`);
  if (run.note) out.push(run.note);
  return out.join('; ');
}

/**
 * Broker CPU time per unit of the rate (message, delivery or connection), in microseconds.
 * Unlike the rate, it hardly moves when other processes take the CPUs, so it is what to
 * compare between two builds on a shared machine.
 */
export function cpuMicrosPerUnit(run: BrokerRun): number | undefined {
  const r = run.result;
  if (run.brokerCpu === undefined || r === undefined || !(r.rate > 0)) return undefined;
  return ((run.brokerCpu / 100) * 1e6) / r.rate;
}

function cpuPerUnit(run: BrokerRun): string {
  const v = cpuMicrosPerUnit(run);
  return v === undefined ? '' : v >= 100 ? num(v) : v.toFixed(2);
}

export function renderTable(scenarios: Scenario[], runs: BrokerRun[], titles: Map<string, string>): string {
  const lines = [
    '| Scenario | Broker | Rate | p50 ms | p99 ms | Broker CPU | CPU µs/unit | Gen CPU | Broker RSS | ts/this | Notes |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const s of scenarios) {
    const mine = runs.filter((r) => r.scenario === s.name);
    if (mine.length === 0) continue;
    const ts = headline(s, mine.find((r) => r.broker === 'ts'));
    const floorKb = mine.find((r) => r.broker === 'net' && r.status === 'ok')?.rssPerConnKb;
    mine.forEach((run, i) => {
      const r = run.result;
      const ok = run.status === 'ok' && r !== undefined;
      const cells = [
        i === 0 ? titles.get(s.name) ?? s.name : '',
        BROKER_LABEL[run.broker],
        ok ? `${rate(r.rate)} ${r.unit}` : run.status,
        ok ? ms(r.p50Ms) : '',
        ok ? ms(r.p99Ms) : '',
        ok && run.brokerCpu !== undefined ? `${num(run.brokerCpu)}%` : '',
        ok ? cpuPerUnit(run) : '',
        ok ? `${num(r.genCpu)}%` : '',
        ok && run.rssMb !== undefined ? `${num(run.rssMb, 1)} MB` : '',
        run.broker === 'ts' || run.broker === 'net' ? '' : fmtRatio(ratio(ts, headline(s, run))),
        notes(run, floorKb).replace(/\|/g, '/'),
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    });
  }
  return lines.join('\n');
}

export function renderPubCli(t: PubCliTiming): string {
  if (t.skipped) return `ts-mosquitto_pub -m x: skipped (${t.skipped})`;
  const r = ratio(t.tsPubMs, t.nodeMs);
  return (
    `ts-mosquitto_pub -m x: ${ms(t.tsPubMs)} ms median wall time over ${t.runs} runs against ${t.broker}; ` +
    `node -e 0: ${ms(t.nodeMs)} ms (${fmtRatio(r)}); mosquitto_pub: ${ms(t.mosquittoPubMs)} ms`
  );
}

interface Target {
  text: string;
  value: number | undefined;
  ok: (v: number) => boolean;
  show: (v: number) => string;
}

export function renderTargets(scenarios: Scenario[], runs: BrokerRun[], pub: PubCliTiming): string {
  const find = (name: string, b: BrokerName): BrokerRun | undefined =>
    runs.find((r) => r.scenario === name && r.broker === b);
  const vs = (name: string, other: BrokerName): number | undefined => {
    const s = scenarios.find((x) => x.name === name);
    return s ? ratio(headline(s, find(name, 'ts')), headline(s, find(name, other))) : undefined;
  };
  const x = (v: number): string => `${num(v, 2)}x`;
  const atLeast = (text: string, name: string, other: BrokerName, min: number): Target => ({
    text: `${text} >= ${min}x ${BROKER_LABEL[other]}`,
    value: vs(name, other),
    ok: (v) => v >= min,
    show: x,
  });
  const targets: Target[] = [
    atLeast('QoS 0 1:1', 'qos0', 'mosquitto', 2),
    atLeast('50 pairs', 'pairs', 'mosquitto', 2),
    atLeast('fan-in 100:1', 'fanin', 'mosquitto', 2),
    atLeast('QoS 1 1:1', 'qos1', 'mosquitto', 3),
    atLeast('QoS 2 1:1', 'qos2', 'mosquitto', 2),
    atLeast('fan-out 1:100', 'fanout', 'mosquitto', 5),
    atLeast('4 KB payloads', '4kb', 'mosquitto', 1.2),
  ];
  for (const name of ['qos0', 'qos1', 'qos2', 'fanout', 'pairs', 'fanin', '4kb', 'retained', 'routing']) {
    targets.push(atLeast(name, name, 'aedes', 2));
  }
  // The cost of a feature: ts-mosquitto with it against ts-mosquitto without it.
  const cost = (text: string, on: string, off: string, min: number): Target => {
    const sOn = scenarios.find((x) => x.name === on);
    const sOff = scenarios.find((x) => x.name === off);
    return {
      text,
      value: sOn && sOff ? ratio(headline(sOn, find(on, 'ts')), headline(sOff, find(off, 'ts'))) : undefined,
      ok: (v) => v >= min,
      show: x,
    };
  };
  targets.push(cost('QoS 1 with persistence on >= 0.7x persistence off (ts-mosquitto)', 'persist', 'persist-off', 0.7)); // issue 5
  targets.push(cost('QoS 0 with Redis presence and a publish hook >= 0.8x without (ts-mosquitto)', 'redis', 'qos0', 0.8)); // issue 7
  targets.push(cost('QoS 0 on a node of a 2-node cluster (local traffic) >= 0.9x cluster false (ts-mosquitto)', 'cluster-local', 'qos0', 0.9)); // issue 15
  for (const base of ['qos0', 'fanout', 'idle']) {
    targets.push(cost(`${base} with /metrics scraped every second >= 0.97x without (ts-mosquitto)`, `metrics-${base}`, base, 0.97)); // issue 18
  }
  const lat = find('latency', 'ts');
  targets.push({ text: 'p99 at 5,000 msg/s < 1 ms', value: lat?.result?.p99Ms, ok: (v) => v < 1, show: (v) => `${ms(v)} ms` });
  targets.push({
    text: 'broker CPU at 5,000 msg/s <= 2x mosquitto',
    value: ratio(lat?.brokerCpu, find('latency', 'mosquitto')?.brokerCpu),
    ok: (v) => v <= 2,
    show: x,
  });
  targets.push({
    text: 'idle connection <= 4 KB RSS',
    value: find('idle', 'ts')?.rssPerConnKb,
    ok: (v) => v <= 4,
    show: (v) => `${num(v, 2)} KB`,
  });
  // Issue 17: a node of 100,000 mostly idle devices.
  targets.push(atLeast('idle connect rate', 'idle', 'mosquitto', 1.5));
  targets.push(atLeast('auth-pbkdf2 (each user once, same file)', 'auth-pbkdf2', 'mosquitto', 1));
  const fleetTs = find('idle-100k', 'ts');
  const floor = find('idle-100k', 'net')?.rssPerConnKb;
  targets.push({
    text: 'idle-100k: every connection accepted and open at the end, every PINGREQ answered',
    value: fleetTs?.result ? Number(fleetTs.result.extra.alive === fleetTs.result.extra.connections && fleetTs.result.extra.pingresps === fleetTs.result.extra.pings) : undefined,
    ok: (v) => v === 1,
    show: (v) => (v === 1 ? 'yes' : 'no'),
  });
  targets.push({ text: 'idle-100k: p99 of the QoS 0 flow while held < 5 ms', value: fleetTs?.result?.p99Ms, ok: (v) => v < 5, show: (v) => `${ms(v)} ms` });
  targets.push({
    text: 'idle-100k: RSS per connection above the bare net floor <= 0.5 KB',
    value: fleetTs?.rssPerConnKb !== undefined && floor !== undefined ? fleetTs.rssPerConnKb - floor : undefined,
    ok: (v) => v <= 0.5,
    show: (v) => `${num(v, 2)} KB`,
  });
  const idleCpu = fleetTs?.result?.extra.idleCpu;
  targets.push({ text: 'idle-100k: broker CPU while idle < 5% of a core', value: typeof idleCpu === 'number' ? idleCpu : undefined, ok: (v) => v < 5, show: (v) => `${num(v, 1)}%` });
  const wakeTs = find('wake-100k', 'ts')?.result;
  targets.push({
    text: 'wake-100k: every message delivered to the # subscriber',
    value: wakeTs ? Number(wakeTs.extra.delivered === wakeTs.extra.connections) : undefined,
    ok: (v) => v === 1,
    show: (v) => (v === 1 ? 'yes' : 'no'),
  });
  targets.push({
    text: 'ts-mosquitto_pub -m x <= 1.5x node -e 0',
    value: ratio(pub.tsPubMs, pub.nodeMs),
    ok: (v) => v <= 1.5,
    show: x,
  });
  return targets
    .map((t) => `- [${t.value !== undefined && t.ok(t.value) ? 'x' : ' '}] ${t.text}: ${t.value === undefined ? 'n/a' : t.show(t.value)}`)
    .join('\n');
}
