// npm run soak [-- --minutes N] [--warmup M] [--out DIR]
//
// Starts ts-mosquitto (persistence on, sys_interval 1) with the probe loaded, drives a fixed
// churning load at it (soak-actors.ts), and once a minute stops the load, lets it settle and
// checks: every QoS 1/2 message acknowledged to the publisher of a persistent subscriber
// arrived (QoS 2 exactly once), and $SYS agrees with what the driver counted (PUBLISH
// received, clients connected and disconnected, subscriptions, retained messages, wills
// delivered). At the end the broker's RSS, heap after GC, open fds and timers must not have
// grown more than 5% from the end of warm-up. Writes soak.json and soak.svg to --out.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { ROOT, freePort, sleep, startBroker, stopBroker, type RunningBroker } from './broker-process.js';
import type { ProbeSample } from './probe.js';
import { DEFAULT_LOAD, SoakActors } from './soak-actors.js';
import { Ledger } from './soak-ledger.js';
import { renderSoakSvg } from './soak-plot.js';

interface Args {
  minutes: number;
  warmup: number;
  out: string;
  minuteMs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 10, warmup: -1, out: path.join(ROOT, 'test/reliability/results'), minuteMs: 60000 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--minutes':
        a.minutes = Number(v);
        i++;
        break;
      case '--warmup':
        a.warmup = Number(v);
        i++;
        break;
      case '--out':
        a.out = path.resolve(v);
        i++;
        break;
      case '--minute-ms':
        // For trying the driver itself: a shorter "minute".
        a.minuteMs = Number(v);
        i++;
        break;
      default:
        throw new Error(`soak: unknown option ${argv[i]}`);
    }
  }
  if (!(a.minutes >= 2)) throw new Error('soak: --minutes must be at least 2');
  if (a.warmup < 0) a.warmup = Math.min(5, Math.floor(a.minutes / 2));
  return a;
}

export interface MinuteCheck {
  minute: number;
  rssMb: number;
  heapAfterGcMb: number;
  /** Not checked, for reading the curve: V8's reserved heap and Buffer memory outside it. */
  heapTotalMb: number;
  externalMb: number;
  fds: number;
  timers: number;
  handles: number;
  sys: Record<string, number>;
  expected: Record<string, number>;
  mismatches: string[];
  persistent: ReturnType<Ledger['persistentDelivery']>;
  settleMs: number;
}

const SYS_KEYS: Record<string, string> = {
  publishReceived: '$SYS/broker/publish/messages/received',
  clientsConnected: '$SYS/broker/clients/connected',
  clientsDisconnected: '$SYS/broker/clients/disconnected',
  subscriptions: '$SYS/broker/subscriptions/count',
  retained: '$SYS/broker/retained messages/count',
};

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-soak-'));
  const port = await freePort();
  const conf = [
    'allow_anonymous true',
    'sys_interval 1',
    'persistence true',
    `persistence_location ${dir}/`,
    'max_queued_messages 1000',
    'log_type error',
    'log_type warning',
    'log_type notice',
    '',
  ].join('\n');
  const broker: RunningBroker = await startBroker(dir, port, conf);
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    void stopBroker(broker).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const ledger = new Ledger();
  // $SYS monitor: latest value per topic, and a tick count on every uptime update.
  const sys = new Map<string, string>();
  let sysTicks = 0;
  const monitor = mqtt.connect({ host: '127.0.0.1', port, clientId: 'soak-monitor', reconnectPeriod: 0 });
  await new Promise<void>((resolve) => monitor.once('connect', () => resolve()));
  ledger.connected++;
  monitor.on('message', (topic, payload) => {
    sys.set(topic, payload.toString());
    if (topic === '$SYS/broker/uptime') sysTicks++;
  });
  await new Promise<void>((resolve) => monitor.subscribe('$SYS/#', { qos: 0 }, () => resolve()));
  ledger.subscriptions.set('soak-monitor', new Set(['$SYS/#']));

  const actors = new SoakActors(port, ledger, DEFAULT_LOAD);
  await actors.start();
  const startedAt = Date.now();
  const minutes: MinuteCheck[] = [];
  process.stderr.write(`soak: broker pid ${broker.pid} on port ${port}, ${args.minutes} minutes (warm-up ${args.warmup}), dir ${dir}\n`);

  for (let m = 1; m <= args.minutes; m++) {
    await sleep(startedAt + m * args.minuteMs - Date.now());
    // Stop the load and let everything in flight finish.
    const t0 = Date.now();
    actors.paused = true;
    const mismatches: string[] = [];
    if (!(await waitFor(() => ledger.ops === 0, 15000))) mismatches.push(`driver did not settle: ${ledger.ops} operations pending`);
    await actors.allOnline();
    if (!(await waitFor(() => ledger.ops === 0, 15000))) mismatches.push(`driver did not settle: ${ledger.ops} operations pending`);
    await waitFor(() => ledger.persistentDelivery().missing === 0 && ledger.willsReceived >= ledger.willsExpected, 15000);
    // Two $SYS updates after settling: the second was computed wholly after it.
    const ticks = sysTicks;
    await waitFor(() => sysTicks >= ticks + 2, 10000);
    const settleMs = Date.now() - t0;
    const got: Record<string, number> = {};
    for (const [k, topic] of Object.entries(SYS_KEYS)) got[k] = Number(sys.get(topic) ?? NaN);
    let sysRetained = 0;
    for (const t of sys.keys()) if (t.startsWith('$SYS/')) sysRetained++;
    const expected: Record<string, number> = {
      publishReceived: ledger.publishesSent,
      clientsConnected: ledger.connected,
      clientsDisconnected: ledger.offlineSessions.size,
      subscriptions: ledger.subscriptionCount(),
      retained: ledger.retained.size + sysRetained,
      wills: ledger.willsExpected,
    };
    got.wills = ledger.willsReceived;
    for (const k of Object.keys(expected)) {
      if (got[k] !== expected[k]) mismatches.push(`${k}: broker ${got[k]}, driver ${expected[k]}`);
    }
    const persistent = ledger.persistentDelivery();
    if (persistent.missing > 0) {
      mismatches.push(`${persistent.missing} acknowledged QoS 1/2 messages not delivered to their persistent subscriber (${ledger.missingSample(8).join(' ')})`);
    }
    if (persistent.duplicatesQos2 > 0) mismatches.push(`${persistent.duplicatesQos2} QoS 2 messages delivered more than once`);
    for (const e of ledger.errors.splice(0)) mismatches.push(`driver: ${e}`);

    const inMinute = broker.samples.filter((s: ProbeSample) => s.at > t0 - args.minuteMs && s.at <= t0);
    const gcd = inMinute.filter((s) => s.heapAfterGc > 0).map((s) => s.heapAfterGc);
    const check: MinuteCheck = {
      minute: m,
      rssMb: median(inMinute.map((s) => s.rss)) / 1048576,
      heapAfterGcMb: median(gcd) / 1048576,
      heapTotalMb: median(inMinute.map((s) => s.heapTotal)) / 1048576,
      externalMb: median(inMinute.map((s) => s.external)) / 1048576,
      fds: median(inMinute.map((s) => s.fds)),
      timers: median(inMinute.map((s) => s.timers)),
      handles: median(inMinute.map((s) => s.handles)),
      sys: got,
      expected,
      mismatches,
      persistent,
      settleMs,
    };
    minutes.push(check);
    process.stderr.write(
      `soak: minute ${m}: RSS ${check.rssMb.toFixed(1)} MB, heap ${check.heapAfterGcMb.toFixed(1)} MB (total ${check.heapTotalMb.toFixed(1)}, external ${check.externalMb.toFixed(1)}), fds ${check.fds}, timers ${check.timers}; ` +
        `${persistent.acked} acked QoS 1/2 delivered; ${mismatches.length === 0 ? 'ok' : mismatches.join('; ')}\n`,
    );
    // SOAK_HEAP_SNAPSHOTS=DIR: a heap snapshot of the broker at every minute mark.
    if (process.env.SOAK_HEAP_SNAPSHOTS) broker.child.send({ snapshot: path.join(process.env.SOAK_HEAP_SNAPSHOTS, `minute-${m}.heapsnapshot`) });
    actors.paused = false;
  }

  await actors.stop();
  monitor.end(true);
  await stopBroker(broker);

  const base = minutes[args.warmup - 1] ?? minutes[0];
  const last = minutes[minutes.length - 1];
  const growth = (k: 'rssMb' | 'heapAfterGcMb' | 'fds' | 'timers'): number => (base[k] > 0 ? (last[k] - base[k]) / base[k] : 0);
  const growths = { rss: growth('rssMb'), heapAfterGc: growth('heapAfterGcMb'), fds: growth('fds'), timers: growth('timers') };
  const failures: string[] = [];
  for (const [k, g] of Object.entries(growths)) if (g >= 0.05) failures.push(`${k} grew ${(g * 100).toFixed(1)}% from minute ${base.minute} to ${last.minute}`);
  for (const m of minutes) for (const x of m.mismatches) failures.push(`minute ${m.minute}: ${x}`);

  const result = {
    when: new Date(startedAt).toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, note: 'shared 2-core machine, other engineers running builds and tests' },
    minutes: args.minutes,
    minuteMs: args.minuteMs,
    warmup: args.warmup,
    load: DEFAULT_LOAD,
    growth: growths,
    pass: failures.length === 0,
    failures,
    perMinute: minutes,
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'soak.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(args.out, 'soak.svg'), renderSoakSvg(minutes, args.warmup));
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(
    `soak: growth from minute ${base.minute}: RSS ${(growths.rss * 100).toFixed(1)}%, heap ${(growths.heapAfterGc * 100).toFixed(1)}%, fds ${(growths.fds * 100).toFixed(1)}%, timers ${(growths.timers * 100).toFixed(1)}%\n`,
  );
  process.stderr.write(failures.length === 0 ? 'soak: PASS\n' : `soak: FAIL\n  ${failures.join('\n  ')}\n`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`soak: ${err.message}\n`);
  process.exit(2);
});
