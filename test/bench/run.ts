// npm run bench [-- --quick] [--only NAME] [--broker ts|mosquitto|aedes] [--json FILE]
// Runs every scenario against every available broker, each broker started fresh per
// scenario, with the load generator in its own process; prints one Markdown table.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import {
  BROKER_LABEL,
  type BrokerName,
  ROOT,
  freePort,
  mosquittoPath,
  openFileLimit,
  startBroker,
  stopBroker,
  unavailableReason,
  type RunningBroker,
} from './brokers.js';
import { installSignalHandlers, stopChild, track } from './children.js';
import { measurePubCli } from './cli-walltime.js';
import { startScraper } from './scraper.js';
import { parseOptions } from './options.js';
import { type ProcSample, cpuPercent, sampleProc } from './proc-stats.js';
import type { GenMessage, GenResult, GenSpec } from './protocol.js';
import { type BrokerRun, type PubCliTiming, cpuMicrosPerUnit, renderPubCli, renderTable, renderTargets } from './report.js';
import { type RedisSample, type RunningRedis, listLength, sampleRedis, startRedis, stopRedis } from './redis-server.js';
import { type Fixtures, SCENARIOS, type Scenario, type Services, type Sizes, sizes } from './scenarios.js';

const GENERATOR = path.join(ROOT, 'dist-bench/bench/loadgen/main.js');

function fdLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    const out = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
  };
  try {
    return { soft: read('-Sn'), hard: read('-Hn') };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/**
 * Password files for the auth scenarios, only when one of them runs: `count` users with
 * their own passwords, as bcrypt at cost 10 (what bcryptjs and ts-mosquitto_passwd use) and
 * as mosquitto_passwd's sha512-pbkdf2 (`mosquitto_passwd -U` over a plain-text file).
 */
function fixtures(dir: string, count: number, bcryptCount: number): Fixtures {
  const f: Fixtures = { dir, users: [], bcryptUsers: bcryptCount };
  if (count === 0) return f;
  for (let i = 0; i < count; i++) f.users.push({ username: `bench${i}`, password: `pw-${i}-${randomBytes(6).toString('hex')}` });
  process.stderr.write(`bench: hashing ${bcryptCount} bcrypt passwords ... `);
  f.bcryptFile = path.join(dir, 'passwd.bcrypt');
  const lines = f.users.slice(0, bcryptCount).map((u) => `${u.username}:${bcrypt.hashSync(u.password, 10)}`);
  writeFileSync(f.bcryptFile, lines.join('\n') + '\n', { mode: 0o644 });
  process.stderr.write('done\n');
  const pbkdf2 = path.join(dir, 'passwd.pbkdf2');
  writeFileSync(pbkdf2, f.users.map((u) => `${u.username}:${u.password}`).join('\n') + '\n', { mode: 0o644 });
  const r = spawnSync('mosquitto_passwd', ['-U', pbkdf2], { stdio: 'ignore' });
  if (r.status === 0) {
    chmodSync(pbkdf2, 0o644);
    f.pbkdf2File = pbkdf2;
  }
  return f;
}

function startGenerator(fdLimit: number | undefined): ChildProcess {
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (fdLimit === undefined) return track(spawn(process.execPath, [GENERATOR], { stdio }));
  // exec keeps the IPC channel's descriptor (NODE_CHANNEL_FD) open across the shell.
  return track(
    spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, GENERATOR], { stdio }),
  );
}

interface Marks {
  [name: string]: ProcSample | undefined;
}

function drive(
  gen: ChildProcess,
  spec: GenSpec,
  pid: number,
  timeoutMs: number,
  onMark?: (name: string) => void,
): Promise<{ result: GenResult; marks: Marks }> {
  const marks: Marks = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no result within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    gen.on('message', (msg: GenMessage) => {
      if (msg.type === 'mark') {
        marks[msg.name] = sampleProc(pid);
        onMark?.(msg.name);
      } else if (msg.type === 'result') {
        clearTimeout(timer);
        resolve({ result: msg.result, marks });
      } else {
        clearTimeout(timer);
        reject(new Error(msg.message));
      }
    });
    gen.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited (${code})`));
    });
    gen.send(spec);
  });
}

async function runOne(
  s: Scenario,
  name: BrokerName,
  sz: Sizes,
  f: Fixtures,
  fdLimit: number | undefined,
  nodelay: boolean,
): Promise<BrokerRun> {
  const base: BrokerRun = { scenario: s.name, broker: name, status: 'n/a' };
  const missing = unavailableReason(name) ?? s.skip?.(name, f);
  if (missing) return { ...base, note: missing };
  const runDir = path.join(f.dir, `${s.name}-${name}`);
  mkdirSync(runDir, { recursive: true });
  chmodSync(runDir, 0o777);
  const svc: Services = {};
  let redis: RunningRedis | undefined;
  let broker;
  let peer: RunningBroker | undefined;
  try {
    if (s.redis) {
      redis = await startRedis(runDir);
      svc.redisPort = redis.port;
    }
    if (s.scrapeMetrics) svc.metricsPort = await freePort();
    broker = await startBroker(name, runDir, { ...s.broker?.(name, f, runDir, svc), fdLimit, tcpNoDelay: nodelay || s.tcpNoDelay });
    if (s.peer) {
      const peerDir = path.join(runDir, 'peer');
      mkdirSync(peerDir, { recursive: true });
      chmodSync(peerDir, 0o777);
      peer = await startBroker(name, peerDir, { ...s.peer(svc), fdLimit, tcpNoDelay: nodelay || s.tcpNoDelay });
      svc.peerPort = peer.port;
      // A persistent session on the other node gives it a route of its own (other/#), so
      // that the first node's route lookups are real ones (cluster-local).
      spawnSync(process.execPath, [path.join(ROOT, 'bin/ts-mosquitto_sub.js'), '-p', String(peer.port), '-t', 'other/#', '-q', '1', '-c', '-i', 'bench-peer', '-W', '1']);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    if (peer) await stopBroker(peer);
    if (broker) await stopBroker(broker);
    if (redis) await stopRedis(redis);
    return { ...base, status: 'error', note: (err as Error).message };
  }
  const gen = startGenerator(fdLimit);
  const scraper = svc.metricsPort !== undefined ? startScraper(svc.metricsPort) : undefined;
  // Redis command counts at the generator's start and end marks: the hook's writes per
  // second over the measured window, to set beside the publish rate.
  const redisMarks = new Map<string, Promise<RedisSample | undefined>>();
  const redisProc: Marks = {};
  // The second cluster node's CPU over the same window (issue 15: a cross-node message costs on both).
  const peerProc: Marks = {};
  const onMark = (mark: string): void => {
    if (peer) peerProc[mark] = sampleProc(peer.pid);
    if (!redis) return;
    redisProc[mark] = sampleProc(redis.pid);
    redisMarks.set(mark, sampleRedis(redis.port).catch(() => undefined));
  };
  try {
    const spec = s.spec(broker.port, sz, f, name, svc);
    let limitNote: string | undefined;
    if (spec.kind === 'fleet') {
      // Each holder process of the fleet stays under the hard limit this shell may grant.
      const { hard } = fdLimits();
      if (spec.holderFdLimit > hard) {
        spec.perHolder = Math.max(100, hard - 256);
        spec.holderFdLimit = hard;
      }
      // The bare net server routes nothing: no flow there.
      if (name === 'net') spec.flowRate = 0;
      // The broker needs one descriptor per connection (issue 17: the README says how to raise it).
      const brokerLimit = openFileLimit(broker.pid);
      if (brokerLimit !== undefined && brokerLimit < spec.connections + 64) {
        limitNote = `broker open-file limit ${brokerLimit} < ${spec.connections} connections + 64`;
      }
    }
    const { result, marks } = await drive(gen, spec, broker.pid, s.timeoutMs(sz), onMark);
    if (redis) {
      await redisWork(redis, redisMarks, result);
      const cpu = cpuPercent(redisProc.start, redisProc.end);
      if (cpu !== undefined) result.extra.redisCpu = Math.round(cpu);
    }
    if (peer) {
      const cpu = cpuPercent(peerProc.start, peerProc.end);
      if (cpu !== undefined) result.extra.peerCpu = Math.round(cpu);
    }
    if (scraper !== undefined) {
      result.extra.scrapes = scraper.ok;
      result.extra.scrapesFailed = scraper.failed;
    }
    const end = marks.settled ?? marks.end;
    const run: BrokerRun = {
      ...base,
      note: limitNote,
      status: 'ok',
      result,
      brokerCpu: cpuPercent(marks.start, marks.end),
      rssMb: end ? end.rssKb / 1024 : undefined,
      peakRssMb: end ? end.hwmKb / 1024 : undefined,
    };
    if (spec.kind === 'idle' && marks.baseline && marks.settled) {
      run.rssPerConnKb = (marks.settled.rssKb - marks.baseline.rssKb) / spec.connections;
    }
    if (spec.kind === 'fleet' && marks.baseline && marks.settled) {
      const accepted = Number(result.extra.accepted);
      if (accepted > 0) run.rssPerConnKb = (marks.settled.rssKb - marks.baseline.rssKb) / accepted;
      // The broker's CPU while the fleet only idles (and pings), before the flow starts.
      const idle = cpuPercent(marks.start, marks.idleEnd);
      if (idle !== undefined) result.extra.idleCpu = Math.round(idle * 10) / 10;
    }
    if (spec.kind === 'retained' && marks.baseline && marks.settled) {
      run.rssPerRetainedB = ((marks.settled.rssKb - marks.baseline.rssKb) * 1024) / spec.messages;
    }
    return run;
  } catch (err) {
    return { ...base, status: 'error', note: (err as Error).message };
  } finally {
    scraper?.stop();
    await stopChild(gen);
    await stopBroker(broker);
    if (peer) await stopBroker(peer);
    if (redis) await stopRedis(redis);
  }
}

/**
 * What Redis did during the measured window, into the result's extra fields: RPUSH and
 * LTRIM calls per second (the publish hook's two commands) and the hook list's length,
 * which the LTRIM keeps at REDIS_HOOK_LIST_MAX (more would mean the trim did not run).
 */
async function redisWork(redis: RunningRedis, marks: Map<string, Promise<RedisSample | undefined>>, result: GenResult): Promise<void> {
  const [a, b] = await Promise.all([marks.get('start'), marks.get('end')]);
  if (a && b && b.atMs > a.atMs) {
    const perSec = (cmd: string): number => Math.round((((b.calls[cmd] ?? 0) - (a.calls[cmd] ?? 0)) * 1000) / (b.atMs - a.atMs));
    result.extra.redisRpushPerSec = perSec('rpush');
    result.extra.redisLtrimPerSec = perSec('ltrim');
  }
  const total = await sampleRedis(redis.port).catch(() => undefined);
  if (total) result.extra.redisRpushTotal = total.calls.rpush ?? 0;
  // The generator's one pair publishes on bench/p/0.
  const len = await listLength(redis.port, 'bench:bench/p/0').catch(() => undefined);
  if (len !== undefined) result.extra.redisListLen = len;
}

function machine(): string {
  let mem = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
  try {
    const free = execFileSync('free', ['-h'], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Mem:'));
    if (free) mem = free.replace(/\s+/g, ' ').trim();
  } catch {
    // keep os.totalmem()
  }
  const cpus = os.cpus();
  let mosq = 'not installed';
  const mp = mosquittoPath();
  if (mp) {
    const v = spawnSync(mp, ['-h'], { encoding: 'utf8' });
    mosq = /version ([\d.]+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? 'unknown version';
  }
  return (
    `${new Date().toISOString()}; nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? 'unknown cpu'}); ` +
    `free -h: ${mem}; node ${process.version}; mosquitto ${mosq}`
  );
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), [...SCENARIOS.map((s) => s.name), 'pubcli']);
  const work = mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-bench-'));
  // Mosquitto started as root drops to the mosquitto user: it must still read the password
  // files and write its persistence directory.
  chmodSync(work, 0o755);
  installSignalHandlers(() => rmSync(work, { recursive: true, force: true }));
  const sz = sizes(opts.quick);
  const scenarios = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
  const notes: string[] = [];
  const header = machine();
  process.stderr.write(`bench: ${header}\n`);
  const load = os.loadavg()[0]!;
  if (load > 0.5) {
    notes.push(`load average ${load.toFixed(2)} at start: other processes compete for the CPUs, numbers are unreliable`);
    process.stderr.write(`bench: warning: ${notes[notes.length - 1]}\n`);
  }

  // Idle connections need one descriptor each in both the broker and the generator.
  const { soft, hard } = fdLimits();
  const needed = sz.idleConnections + 256;
  let idleFdLimit: number | undefined;
  if (soft < needed) {
    if (hard >= needed) idleFdLimit = needed;
    else {
      sz.idleConnections = Math.max(100, hard - 256);
      idleFdLimit = hard;
      notes.push(`idle connections capped at ${sz.idleConnections} by the open-file hard limit (${hard})`);
    }
  }
  // The fleet (issue 17): the broker holds every connection in one process, so its limit
  // caps the fleet; the generator spreads its side over holder processes.
  if (opts.connections !== undefined) sz.fleetConnections = opts.connections;
  const fleetNeeded = sz.fleetConnections + 256;
  let fleetFdLimit: number | undefined;
  if (scenarios.some((s) => s.fleet) && soft < fleetNeeded) {
    if (hard >= fleetNeeded) fleetFdLimit = fleetNeeded;
    else {
      const asked = sz.fleetConnections;
      sz.fleetConnections = Math.max(100, hard - 256);
      fleetFdLimit = hard;
      notes.push(
        `fleet capped at ${sz.fleetConnections.toLocaleString('en-US')} connections (asked ${asked.toLocaleString('en-US')}) by the open-file hard limit (${hard}): ` +
          'the broker holds one descriptor per connection; raise the hard limit (ulimit -Hn, limits.conf, LimitNOFILE=) to run it in full',
      );
    }
  }
  const fdLimitFor = (s: Scenario): number | undefined => (s.name === 'idle' ? idleFdLimit : s.fleet ? fleetFdLimit : undefined);

  const f = fixtures(work, scenarios.some((s) => s.name.startsWith('auth')) ? sz.pbkdf2Users : 0, sz.authUsers);
  const titles = new Map(scenarios.map((s) => [s.name, s.title(sz)]));
  const runs: BrokerRun[] = [];
  for (const s of scenarios) {
    // Node's bare net server beside the brokers where the scenario measures the floor.
    for (const b of s.floor ? [...opts.brokers, 'net' as const] : opts.brokers) {
      process.stderr.write(`bench: ${s.name} / ${BROKER_LABEL[b]} ... `);
      const run = await runOne(s, b, sz, f, fdLimitFor(s), opts.nodelay);
      runs.push(run);
      process.stderr.write(
        run.status === 'ok'
          ? `${Math.round(run.result!.rate)} ${run.result!.unit}, broker CPU ${Math.round(run.brokerCpu ?? 0)}% (${cpuMicrosPerUnit(run)?.toFixed(2) ?? '?'} µs/unit), generator CPU ${Math.round(run.result!.genCpu)}%\n`
          : `${run.status}${run.note ? ` (${run.note})` : ''}\n`,
      );
    }
  }

  let pub: PubCliTiming = { skipped: 'not selected' };
  if (!opts.only || opts.only.includes('pubcli')) {
    process.stderr.write('bench: ts-mosquitto_pub wall time ... ');
    try {
      pub = await measurePubCli(opts.quick, opts.brokers, work);
    } catch (err) {
      pub = { skipped: (err as Error).message };
    }
    process.stderr.write('done\n');
  }

  const table = renderTable(scenarios, runs, titles);
  const out = [
    `Benchmark ${opts.quick ? '(--quick) ' : ''}${opts.nodelay ? '(--nodelay) ' : ''}${header}`,
    '',
    table,
    '',
    renderPubCli(pub),
    ...notes.map((n) => `Note: ${n}`),
    '',
    'Targets (issues 5, 7, 8):',
    renderTargets(SCENARIOS, runs, pub),
  ];
  process.stdout.write(out.join('\n') + '\n');
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ machine: header, quick: opts.quick, runs, pubCli: pub, notes }, null, 2));
  }
  rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
