// npm run flood [-- --only qos0,half-open] [--mb 1024] [--half-open 19900] [--out DIR]
//
// Floods against the ts-mosquitto program (the probe loaded: RSS once a second), the long
// versions of test/reliability-floods.test.ts:
// - qos0: a QoS 0 flood (--mb, 1 GB by default, 64 KB messages) to a stalled subscriber
//   (never reads until the end) and a live one. The broker's RSS must stay within its
//   empty size + the 16 MB socket backlog + a margin, and every message is accounted for:
//   $SYS dropped = (sent - reached the stalled one) + (sent - reached the live one).
// - half-open: N connections (two driver processes, the machine's 20,000 fds a process)
//   that never send CONNECT: each must be cut off at the connect timeout (90 s, as
//   Mosquitto) with 'Client <unknown> has exceeded timeout, disconnecting.', while a
//   connected client's QoS 0 round trips go on (their latency is reported, not judged).
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { ROOT, freePort, sleep, startBroker, stopBroker, type RunningBroker } from './broker-process.js';

const MB = 1024 * 1024;

interface Args {
  only: string[];
  mb: number;
  halfOpen: number;
  out: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: ['qos0', 'half-open'], mb: 1024, halfOpen: 19900, out: path.join(ROOT, 'test/reliability/results') };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--only') a.only = v.split(',');
    else if (k === '--mb') a.mb = Number(v);
    else if (k === '--half-open') a.halfOpen = Number(v);
    else if (k === '--out') a.out = v === '-' ? undefined : path.resolve(v);
    else throw new Error(`flood: unknown option ${k}`);
  }
  return a;
}

/** A raw MQTT 3.1.1 client: CONNECT sent, packets parsed, counted by type. */
class Raw {
  readonly sock: net.Socket;
  readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  publishes = 0;
  last = new Map<string, Buffer>();
  private waiters: { cmd: string; resolve: () => void }[] = [];

  constructor(port: number, clientId: string) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.sock.on('error', () => {});
    this.sock.on('data', (b: Buffer) => this.parser.parse(b));
    this.parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'publish') {
        if (p.topic.startsWith('$SYS')) this.last.set(p.topic, p.payload as Buffer);
        else this.publishes++;
      }
      this.waiters = this.waiters.filter((w) => (w.cmd === p.cmd ? (w.resolve(), false) : true));
    });
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 });
  }

  send(p: mqttPacket.Packet): boolean {
    return this.sock.write(mqttPacket.generate(p));
  }

  next(cmd: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ cmd, resolve }));
  }

  async subscribe(topic: string): Promise<void> {
    const acked = this.next('suback');
    this.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await acked;
  }

  /** Everything the broker sent before the PINGRESP has been parsed once this resolves. */
  async sync(): Promise<void> {
    const pong = this.next('pingresp');
    this.send({ cmd: 'pingreq' });
    await pong;
  }
}

function maxRss(b: RunningBroker, from = 0): number {
  return Math.max(0, ...b.samples.slice(from).map((s) => s.rss));
}

async function qos0Flood(dir: string, mb: number): Promise<Record<string, unknown>> {
  const port = await freePort();
  const b = await startBroker(dir, port, 'allow_anonymous true\nsys_interval 1\nlog_type error\nlog_type warning\nlog_type notice\n', 'qos0.log');
  await sleep(3000);
  const emptyRss = maxRss(b);
  const stalled = new Raw(port, 'stalled');
  await stalled.subscribe('flood/#');
  stalled.sock.pause();
  const live = new Raw(port, 'live');
  await live.subscribe('flood/#');
  const pub = new Raw(port, 'pub');
  const frame = mqttPacket.generate({ cmd: 'publish', topic: 'flood/x', payload: Buffer.alloc(64 * 1024, 0x61), qos: 0, retain: false, dup: false });
  const n = Math.round((mb * MB) / (64 * 1024));
  const started = Date.now();
  const rssFrom = b.samples.length;
  for (let i = 0; i < n; i++) {
    if (!pub.sock.write(frame)) await new Promise((r) => pub.sock.once('drain', r));
  }
  await pub.sync();
  await live.sync();
  const floodMs = Date.now() - started;
  const peakRss = maxRss(b, rssFrom);
  // Flat: the second half of the flood needs no more memory than the first.
  const half = rssFrom + Math.floor((b.samples.length - rssFrom) / 2);
  const firstHalfPeak = Math.max(0, ...b.samples.slice(rssFrom, half).map((x) => x.rss));
  const secondHalfPeak = maxRss(b, half);
  stalled.sock.resume();
  await stalled.sync();
  // $SYS/broker/publish/messages/dropped, once the next interval has published it.
  const watcher = new Raw(port, 'watcher');
  await watcher.subscribe('$SYS/broker/publish/messages/dropped');
  await sleep(2500);
  const dropped = Number(String(watcher.last.get('$SYS/broker/publish/messages/dropped') ?? 'NaN'));
  const owed = n - stalled.publishes + (n - live.publishes);
  for (const c of [stalled, live, pub, watcher]) c.sock.destroy();
  await stopBroker(b);
  // Bounded: the empty broker, the 16 MB backlog of the stalled one and of the live one
  // (should it fall behind), the 64 KB messages in passing that the next GC frees (V8
  // collects external Buffer memory late), counted generously.
  const bound = emptyRss + 2 * 16 * MB + 96 * MB;
  const flat = secondHalfPeak <= firstHalfPeak * 1.05;
  const pass = b.samples.length > 0 && peakRss <= bound && flat && dropped === owed && stalled.publishes > 0;
  return {
    scenario: 'qos0 flood to a stalled subscriber',
    megabytes: mb,
    messages: n,
    floodSeconds: +(floodMs / 1000).toFixed(1),
    emptyRssMb: +(emptyRss / MB).toFixed(1),
    peakRssMb: +(peakRss / MB).toFixed(1),
    boundRssMb: +(bound / MB).toFixed(1),
    firstHalfPeakRssMb: +(firstHalfPeak / MB).toFixed(1),
    secondHalfPeakRssMb: +(secondHalfPeak / MB).toFixed(1),
    stalledReceived: stalled.publishes,
    liveReceived: live.publishes,
    sysDropped: dropped,
    owedDrops: owed,
    pass,
  };
}

/** Child role: opens `count` TCP connections, reports, then reports each close's time. */
async function halfOpenChild(port: number, count: number): Promise<void> {
  const socks = new Set<net.Socket>();
  let closed = 0;
  let refused = 0;
  const closeTimes: number[] = [];
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, () => new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.once('connect', () => {
          socks.add(s);
          resolve();
        });
        s.once('close', () => {
          if (!socks.has(s)) {
            refused++;
            resolve();
            return;
          }
          closed++;
          closeTimes.push(Date.now());
        });
      })),
    );
  }
  process.send!({ opened: socks.size, refused, at: Date.now() });
  while (closed < socks.size) await sleep(250);
  process.send!({ closed, first: Math.min(...closeTimes), last: Math.max(...closeTimes) });
  process.exit(0);
}

async function halfOpen(dir: string, total: number): Promise<Record<string, unknown>> {
  const port = await freePort();
  const b = await startBroker(dir, port, 'allow_anonymous true\nmax_connections -1\n', 'half-open.log');
  await sleep(2000);
  const emptyRss = maxRss(b);
  // A connected client's round trips while the connections pile up and are cut off.
  const echo = new Raw(port, 'echo');
  await echo.subscribe('echo');
  const rtts: number[] = [];
  let running = true;
  const pinger = (async () => {
    while (running) {
      const t = process.hrtime.bigint();
      const got = echo.publishes;
      echo.send({ cmd: 'publish', topic: 'echo', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      while (echo.publishes === got && running) await new Promise((r) => setImmediate(r));
      rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
      await sleep(10);
    }
  })();
  const started = Date.now();
  const halves = [Math.ceil(total / 2), Math.floor(total / 2)];
  const reports = await Promise.all(
    halves.map(
      (count) =>
        new Promise<{ opened: number; refused: number; at: number; closed: number; first: number; last: number }>((resolve) => {
          const child = fork(process.argv[1], ['--child-half-open', String(port), String(count)]);
          const r: Record<string, number> = {};
          child.on('message', (m) => Object.assign(r, m));
          child.on('exit', () => resolve(r as never));
        }),
    ),
  );
  running = false;
  await pinger;
  echo.sock.destroy();
  const peakRss = maxRss(b);
  await stopBroker(b);
  const opened = reports.reduce((n, r) => n + r.opened, 0);
  const closed = reports.reduce((n, r) => n + (r.closed ?? 0), 0);
  const allOpenAt = Math.max(...reports.map((r) => r.at));
  const lastClose = Math.max(...reports.map((r) => r.last));
  const firstClose = Math.min(...reports.map((r) => r.first));
  const log = readFileSync(path.join(dir, 'half-open.log'), 'utf8');
  const lines = log.split('\n').filter((l) => l.endsWith('Client <unknown> has exceeded timeout, disconnecting.')).length;
  rtts.sort((x, y) => x - y);
  const pct = (p: number): number => +(rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))] ?? NaN).toFixed(3);
  return {
    scenario: 'half-open connections (no CONNECT)',
    attempted: total,
    opened,
    refused: reports.reduce((n, r) => n + r.refused, 0),
    closedByBroker: closed,
    timeoutLines: lines,
    secondsToFirstClose: +((firstClose - started) / 1000).toFixed(1),
    secondsFromAllOpenToLastClose: +((lastClose - allOpenAt) / 1000).toFixed(1),
    emptyRssMb: +(emptyRss / MB).toFixed(1),
    peakRssMb: +(peakRss / MB).toFixed(1),
    kbPerConnection: +((peakRss - emptyRss) / 1024 / Math.max(1, opened)).toFixed(1),
    echoRoundTrips: rtts.length,
    echoP50Ms: pct(0.5),
    echoP99Ms: pct(0.99),
    echoMaxMs: pct(1),
    pass: opened > 0 && closed === opened && lines === opened,
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child-half-open') {
    await halfOpenChild(Number(process.argv[3]), Number(process.argv[4]));
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flood-'));
  const results: Record<string, unknown>[] = [];
  try {
    if (args.only.includes('qos0')) results.push(await qosOrLog(() => qos0Flood(dir, args.mb)));
    if (args.only.includes('half-open')) results.push(await qosOrLog(() => halfOpen(dir, args.halfOpen)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const doc = { at: new Date().toISOString(), loadAverage: os.loadavg().map((l) => +l.toFixed(1)), results };
  console.log(JSON.stringify(doc, null, 2));
  if (args.out !== undefined) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(path.join(args.out, 'flood.json'), JSON.stringify(doc, null, 2) + '\n');
  }
  process.exitCode = results.every((r) => r.pass === true) ? 0 : 1;
}

async function qosOrLog(run: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const r = await run();
  console.error(JSON.stringify(r));
  return r;
}

void main();
