#!/usr/bin/env node
// The cost of the metrics listener (issue 18) end to end, free running, with the machine's
// load cancelled out: two brokers built from dist/ run side by side, one without metrics
// ("off") and one with a `protocol http` listener whose /metrics is scraped once a second
// ("on", as in the bench's metrics-* scenarios), and one driver gives both the same work in
// small interleaved steps, alternating which goes first. Whatever the machine does (other
// processes, CPU frequency, cache) falls on both at the same moments, and
// every step gives both the same batches (lock-step: the next chunk once every copy of the
// last arrived). Each broker's CPU (all threads, /proc/PID/task/*/schedstat) is read
// around each round; a round's ratio is on's CPU per unit over off's.
//
//   node scripts/metrics-paired.mjs qos0|fanout|idle|tick [ROUNDS] [SECONDS]
//
// qos0: 1:1, chunks of 1,000 messages of 64 bytes; fanout: 1 publisher, 100 subscribers,
// chunks of 10 messages (1,000 deliveries); idle: chunks of 100 connects (keep alive 60,
// clean session) up to 9,000 held connections per broker, which are then closed (two
// brokers' 9,000 and the driver's 18,000 sockets fit a file limit of 20,000). Each round
// starts its own two brokers and runs a window to warm them up before the counted one;
// round 0 is not counted. tick: both brokers hold CONNS (default 100) idle connections
// and do nothing else: the CPU per second that metrics add whatever the traffic (the
// scrape, the event-loop delay monitor, the GC sampling). The other three pay that per
// second of their window, which lock-step makes longer per unit than a flat-out run. WINDOWS=K counts K windows
// per round on the same pair (summed). AA=1 runs two brokers without metrics, as a check of the
// method. FLAT=K: instead of lock-step, each broker runs flat out on its own (qos0 and
// fanout: K chunks in flight, the next written as one completes; idle: K x 100 connects in
// flight), both at the same moments, each one's CPU per unit over the units it handled: its
// loop never waits for the driver, as in a benchmark run, where the cost per second weighs
// less and a scrape finds the broker's code warm. PORT (default 27100) to PORT+2 are used.
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Conn, pkt, sleep, str } from './callgrind-mqtt.mjs';

const [scenario, roundsArg, secondsArg] = process.argv.slice(2);
if (!['qos0', 'fanout', 'idle', 'tick'].includes(scenario)) {
  console.error('usage: node scripts/metrics-paired.mjs qos0|fanout|idle|tick [ROUNDS] [SECONDS]');
  process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 5);
const SECONDS = Number(secondsArg ?? 10);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = Number(process.env.PORT ?? 27100);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-paired-'));
const user = process.getuid?.() === 0 ? 'user root\n' : '';

function startBroker(name, port, metricsPort) {
  const conf = path.join(dir, `${name}.conf`);
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n${user}` +
    (metricsPort ? `listener ${metricsPort} 127.0.0.1\nprotocol http\n` : ''));
  // ON_ARGS, OFF_ARGS: node options for the "on" or the "off" broker (e.g. --require of a
  // file to try, --cpu-prof for both).
  const nodeArgs = (name === 'on' ? process.env.ON_ARGS : process.env.OFF_ARGS)?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin/ts-mosquitto.js'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return { name, port, child, err: () => err };
}

/**
 * Seconds of CPU the process's threads have run (the scheduler's own count, in ns, per
 * thread): [all threads, the main thread alone].
 */
const cpu = (pid) => {
  let ns = 0, main = 0;
  const threads = new Map();
  // Thread ids grow as threads are created: a thread's rank among its own process's ids is
  // its order of creation, whatever the other broker's threads took in between.
  const tids = fs.readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
  for (const [rank, t] of tids.entries()) {
    try {
      const v = Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      ns += v;
      threads.set(rank, v / 1e9);
      if (t === pid) main = v;
    } catch { /* a thread that ended */ }
  }
  return [ns / 1e9, main / 1e9, threads];
};
// THREADS=1: also what each thread (by its order of creation in its own process) spent,
// on less off, per second of window over all rounds: 0 is the main thread, then Node's own
// threads (its four V8 platform threads among them: 2-5 here), the libuv pool (7-10, once
// the broker has read a file), and last the "on" broker's http listeners' thread (11),
// which the "off" broker does not have.
const THREADS = process.env.THREADS === '1';
const byThread = new Map();

async function ready(port, err) {
  for (let i = 0; ; i++) {
    try { (await Conn.open(port, 'probe')).sock.destroy(); return; } catch { if (i > 100) throw new Error(`broker did not start: ${err()}`); await sleep(100); }
  }
}

async function openMany(port, n, prefix, at = 0) {
  const all = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(Conn.open(port, `${prefix}${at + j}`));
    all.push(...(await Promise.all(batch)));
  }
  return all;
}

/** One lock-step chunk: write `chunk` on pub, resolve once `want` copies reached subs. */
function chunkOnce(pub, subs, chunk, want) {
  return new Promise((resolve) => {
    let got = 0;
    for (const s of subs) s.onPacket = (t) => { if (t === 0x30 && ++got === want) resolve(); };
    pub.sock.write(chunk);
  });
}

// Both brokers get each step at once (they run on the two cores side by side, busier and
// closer to a flat-out run, so that the per-second costs weigh as they do there);
// SERIAL=1 gives the step to one and then the other.
const SERIAL = process.env.SERIAL === '1';
// FLAT=K (qos0, fanout): each broker flat out with K chunks in flight instead of lock-step;
// both still run at the same moments, each CPU per unit over the units it handled.
const FLAT = Number(process.env.FLAT ?? 1);
// AA=1: both without metrics (and nothing scraped), to see what the pairing itself resolves.
const AA = process.env.AA === '1';
// WINDOWS=K: K counted windows per round, one after the other on the same pair, their CPU
// and units summed: a collection or a scrape that falls in one window weighs a Kth, so the
// round's ratio spreads less (what differs between processes, their compiled code, does not).
const WINDOWS = Math.max(1, Number(process.env.WINDOWS ?? 1));
let scraped = 0, scrapeFailed = 0;
// As Prometheus scrapes: one connection kept alive from scrape to scrape (KEEPALIVE=0: a
// new connection for each scrape).
const scrapeAgent = process.env.KEEPALIVE === '0' ? false : new http.Agent({ keepAlive: true, maxSockets: 1 });
// SCRAPE=0: the listener on, never scraped. SCRAPE_PATH: what is requested (default
// /metrics; /healthz is the same HTTP exchange without the exposition). SCRAPE_MS: the
// interval (default 1000; shorter magnifies what each scrape costs, to tell it apart from
// what the listener costs the broker whatever the rate).
const scrapePath = process.env.SCRAPE_PATH ?? '/metrics';
const scrapeMs = Number(process.env.SCRAPE_MS ?? 1000);
if (!Number.isFinite(scrapeMs) || scrapeMs <= 0) {
  fs.rmSync(dir, { recursive: true, force: true });
  console.error(`metrics-paired: SCRAPE_MS must be a number of milliseconds above 0, not "${process.env.SCRAPE_MS}"`);
  process.exit(2);
}
const scrapeTimer = AA || process.env.SCRAPE === '0' ? undefined : setInterval(() => {
  http.get({ host: '127.0.0.1', port: base + 2, path: scrapePath, agent: scrapeAgent, timeout: 5000 }, (r) => {
    r.resume(); r.on('end', () => (r.statusCode === 200 ? scraped++ : scrapeFailed++));
  }).on('error', () => scrapeFailed++);
}, scrapeMs);

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
let pair = [];

async function stopPair() {
  for (const b of pair) for (const c of b.conns ?? []) c.sock.destroy();
  for (const b of pair) b.child.kill('SIGTERM');
  await Promise.all(pair.map((b) => new Promise((r) => (b.child.exitCode !== null || b.child.signalCode !== null ? r() : b.child.once('exit', r)))));
  pair = [];
}

/** Work of one window on both brokers, interleaved; returns the units each got. */
async function window(off, on, r) {
  if (scenario === 'tick') {
    const t0 = Date.now(), c0 = pair.map((b) => cpu(b.child.pid));
    await sleep(SECONDS * 1000);
    return { t0, c0, units: SECONDS };
  }
  if (scenario === 'idle') {
    const N = 9000;
    for (const b of pair) { for (const c of b.conns ?? []) c.sock.destroy(); b.conns = []; }
    await sleep(1000);
    const t0 = Date.now(), c0 = pair.map((b) => cpu(b.child.pid));
    if (FLAT > 1) {
      // Each broker on its own, FLAT x 100 connects in flight, a new one as each is accepted.
      const run = (b) => new Promise((resolve, reject) => {
        let started = 0, done = 0;
        const next = () => {
          while (started < N && started - done < FLAT * 100) {
            const i = started++;
            Conn.open(b.port, `r${r}-${i}`).then((c) => { b.conns.push(c); if (++done === N) resolve(); else next(); }, reject);
          }
        };
        next();
      });
      await Promise.all([run(off), run(on)]);
      return { t0, c0, units: N };
    }
    for (let i = 0; i < N; i += 100) {
      const order = (i / 100) % 2 ? [on, off] : [off, on];
      if (SERIAL) for (const b of order) b.conns.push(...(await openMany(b.port, 100, `r${r}-`, i)));
      else await Promise.all(order.map(async (b) => b.conns.push(...(await openMany(b.port, 100, `r${r}-`, i)))));
    }
    return { t0, c0, units: N };
  }
  const nSubs = scenario === 'qos0' ? 1 : 100;
  const perChunk = scenario === 'qos0' ? 1000 : 10;
  const chunk = Buffer.concat(Array.from({ length: perChunk }, () => pkt(0x30, Buffer.concat([str('bench/t'), Buffer.alloc(64, 0x61)]))));
  const want = perChunk * nSubs;
  const t0 = Date.now(), c0 = pair.map((b) => cpu(b.child.pid));
  const end = Date.now() + SECONDS * 1000;
  if (FLAT > 1) {
    // Each broker on its own, flat out: FLAT chunks in flight, the next written as one
    // completes, so that its loop never waits for the driver (as in a benchmark run).
    const run = (b) => new Promise((resolve) => {
      let sent = 0, got = 0;
      const pump = () => {
        const done = Math.floor(got / want);
        while (sent - done < FLAT && Date.now() < end) { b.pub.sock.write(chunk); sent++; }
        if (Date.now() >= end && done === sent) resolve(sent * want);
      };
      for (const s of b.subs) s.onPacket = (t) => { if (t === 0x30 && ++got % want === 0) pump(); };
      pump();
    });
    const [uOff, uOn] = await Promise.all([run(off), run(on)]);
    return { t0, c0, units: uOff, unitsOn: uOn };
  }
  let steps = 0;
  while (Date.now() < end) {
    const order = steps % 2 ? [on, off] : [off, on];
    if (SERIAL) for (const b of order) await chunkOnce(b.pub, b.subs, chunk, want);
    else await Promise.all(order.map((b) => chunkOnce(b.pub, b.subs, chunk, want)));
    steps++;
  }
  return { t0, c0, units: steps * want };
}

try {
  const results = [];
  // Each round has brokers of its own: V8 compiles each process's hot functions its own way
  // (a call inlined in one process and not in the other moves a run by 10%), so a pair of
  // processes is one sample of that, and the rounds average over it. Which of the two
  // starts first alternates too.
  for (let r = 0; r <= ROUNDS; r++) {
    const [off, on] = r % 2
      ? [startBroker('off', base), startBroker('on', base + 1, AA ? undefined : base + 2)]
      : [startBroker('on', base + 1, AA ? undefined : base + 2), startBroker('off', base)].reverse();
    pair = r % 2 ? [on, off] : [off, on];
    await ready(off.port, off.err);
    await ready(on.port, on.err);
    if (scenario === 'tick') {
      for (const b of pair) b.conns = await openMany(b.port, Number(process.env.CONNS ?? 100), 'c');
    } else if (scenario !== 'idle') {
      const nSubs = scenario === 'qos0' ? 1 : 100;
      for (const b of pair) {
        b.subs = await openMany(b.port, nSubs, 's');
        for (const s of b.subs) await s.subscribe('bench/t');
        [b.pub] = await openMany(b.port, 1, 'pub');
        b.conns = [...b.subs, b.pub];
      }
    }
    // WARM_SCRAPES=N: the "on" broker scraped N times back to back first, as a broker
    // that has run a while has been: what a scrape costs once its code is compiled.
    for (let i = 0; i < Number(process.env.WARM_SCRAPES ?? 0) && !AA; i++) {
      await new Promise((resolve) => http.get({ host: '127.0.0.1', port: base + 2, path: scrapePath, agent: scrapeAgent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', resolve));
    }
    await window(off, on, `w${r}`); // warm-up: V8 compiles, not counted
    let units = 0, unitsOn = 0, wall = 0;
    const spent = pair.map(() => [0, 0]);
    for (let k = 0; k < WINDOWS; k++) {
      const w = await window(off, on, WINDOWS > 1 ? `${r}-${k}` : r);
      const c1 = pair.map((b) => cpu(b.child.pid));
      wall += (Date.now() - w.t0) / 1000;
      units += w.units;
      unitsOn += w.unitsOn ?? w.units;
      for (let i = 0; i < pair.length; i++) for (let j = 0; j < 2; j++) spent[i][j] += c1[i][j] - w.c0[i][j];
      if (THREADS && r > 0) {
        for (let i = 0; i < pair.length; i++) {
          const sign = pair[i] === on ? 1 : -1;
          for (const [t, v] of c1[i][2]) byThread.set(t, (byThread.get(t) ?? 0) + sign * (v - (w.c0[i][2].get(t) ?? 0)));
        }
      }
    }
    const d = (i, k) => spent[i][k];
    const [iOff, iOn] = pair[0] === off ? [0, 1] : [1, 0];
    const [dOff, dOn, mOff, mOn] = [d(iOff, 0), d(iOn, 0), d(iOff, 1), d(iOn, 1)];
    await stopPair();
    // Round 0 is a warm-up of the machine (and its files), not counted.
    if (r > 0) results.push({ units, unitsOn, wall, off: dOff / units, on: dOn / unitsOn, mainOff: mOff / units, mainOn: mOn / unitsOn });
  }
  const unit = { qos0: 'message', fanout: 'delivery', idle: 'connect', tick: 'second' }[scenario];
  for (const [i, x] of results.entries()) {
    console.log(`round ${i + 1}: ${x.units} ${unit === 'delivery' ? 'deliveries' : `${unit}s`} each; off ${(x.off * 1e6).toFixed(3)} µs, on ${(x.on * 1e6).toFixed(3)} µs of CPU per ${unit}; on/off ${(x.on / x.off).toFixed(3)}; main thread alone on/off ${(x.mainOn / x.mainOff).toFixed(3)}`);
  }
  const ratios = results.map((x) => x.on / x.off);
  const sumOn = results.reduce((a, x) => a + x.on * x.unitsOn, 0), sumOff = results.reduce((a, x) => a + x.off * x.units, 0);
  const unitsOnAll = results.reduce((a, x) => a + x.unitsOn, 0), unitsOffAll = results.reduce((a, x) => a + x.units, 0);
  const mainRatios = results.map((x) => x.mainOn / x.mainOff);
  // What metrics add per second of a window, and the windows' pace: with tick's figure
  // (metrics' cost per second whatever the work) this separates the cost per unit from
  // the cost per second, which a flat-out run spreads over more units.
  const wall = results.reduce((a, x) => a + x.wall, 0), units = results.reduce((a, x) => a + x.units, 0);
  // Per unit (in FLAT mode each broker handled its own number of units), over off's units.
  const perOn = sumOn / unitsOnAll, perOff = sumOff / unitsOffAll;
  console.log(`on - off: ${((((perOn - perOff) * unitsOffAll) / wall) * 1000).toFixed(2)} ms of CPU per second of window; ${Math.round(units / wall)} ${unit === 'delivery' ? 'deliveries' : `${unit}s`} per second of window; off ${((sumOff / wall) * 100).toFixed(1)}% of a core`);
  if (THREADS) {
    const line = [...byThread].sort((a, b) => a[0] - b[0]).map(([t, v]) => `${t}: ${((v / wall) * 1000).toFixed(2)}`).join(', ');
    console.log(`on - off by thread (ms of CPU per second of window): ${line}`);
  }
  console.log(`${scenario}: on/off CPU per ${unit}: median ${median(ratios).toFixed(3)}, all rounds together ${(perOn / perOff).toFixed(3)}; main thread alone: median ${median(mainRatios).toFixed(3)} (${ROUNDS} rounds; ${scraped} scrapes answered, ${scrapeFailed} failed; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  clearInterval(scrapeTimer);
  await stopPair();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit();
}
