// npm run crash-loop [-- --kills N] [--mode file|redis|bridge|all] [--out DIR]
//
// With persistence on, a publisher sends QoS 1 and 2 messages to persistent subscribers
// while the broker is killed with SIGKILL at random moments and restarted on the same
// directory and port. Afterwards every message the broker acknowledged to the publisher
// (PUBACK, PUBCOMP) must have reached each subscriber of its topic, QoS 2 exactly once.
//   file:   one broker, file persistence.
//   redis:  the same with Redis on (presence, subscriptions, queued messages in Redis);
//           redis-server (append-only file on) is killed and restarted too.
//   bridge: broker A (publisher) bridges to broker B (subscribers), both with persistence;
//           either side is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, freePort, sleep, startBroker, waitForPort, type RunningBroker } from './broker-process.js';
import { CrashClients, count, type CrashCounts } from './crash-clients.js';

export type Mode = 'file' | 'redis' | 'bridge';

export interface Args {
  kills: number;
  modes: Mode[];
  out: string | undefined;
  minGapMs: number;
  maxGapMs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { kills: 50, modes: ['file', 'redis', 'bridge'], out: path.join(ROOT, 'test/reliability/results'), minGapMs: 100, maxGapMs: 1500 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--kills':
        a.kills = Number(v);
        i++;
        break;
      case '--mode':
        a.modes = v === 'all' ? ['file', 'redis', 'bridge'] : (v.split(',') as Mode[]);
        i++;
        break;
      case '--out':
        a.out = v === '-' ? undefined : path.resolve(v);
        i++;
        break;
      default:
        throw new Error(`crash-loop: unknown option ${argv[i]}`);
    }
  }
  return a;
}

/** One restartable process: a broker, or redis-server. */
interface Killable {
  name: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

class BrokerSlot implements Killable {
  b: RunningBroker | undefined;
  starts = 0;
  constructor(
    readonly name: string,
    private readonly dir: string,
    readonly port: number,
    private readonly conf: string,
  ) {}
  async start(): Promise<void> {
    this.starts++;
    this.b = await startBroker(this.dir, this.port, this.conf, `${this.name}.log`);
  }
  async kill(): Promise<void> {
    const b = this.b;
    if (b === undefined) return;
    try {
      process.kill(b.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    await b.exited;
    this.b = undefined;
  }
  async stop(): Promise<void> {
    await this.kill();
  }
}

class RedisSlot implements Killable {
  readonly name = 'redis-server';
  private proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}
  async start(): Promise<void> {
    // appendonly: what Redis acknowledged is in the AOF before the reply (a SIGKILL loses
    // nothing that reached the kernel).
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', this.dir], {
      stdio: 'ignore',
    });
    this.proc = proc;
    const killOnExit = (): void => void proc.kill('SIGKILL');
    process.on('exit', killOnExit);
    proc.once('exit', () => process.removeListener('exit', killOnExit));
    await waitForPort(this.port, 10000);
  }
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
    this.proc = undefined;
  }
  async stop(): Promise<void> {
    await this.kill();
  }
}

const PERSIST = (dir: string, name: string): string[] => ['persistence true', `persistence_location ${dir}/${name}/`, 'autosave_interval 30'];

export async function runMode(mode: Mode, args: Args): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ts-mosquitto-crash-${mode}-`));
  const common = ['allow_anonymous true', 'max_queued_messages 100000', 'log_type error', 'log_type warning', 'log_type notice'];
  const slots: Killable[] = [];
  let subPort: number;
  let pubPort: number;
  let prefix = 'crash';
  if (mode === 'bridge') {
    const portA = await freePort();
    const portB = await freePort();
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    const b = new BrokerSlot('broker-b', dir, portB, [...common, ...PERSIST(dir, 'b'), ''].join('\n'));
    const a = new BrokerSlot(
      'broker-a',
      dir,
      portA,
      [
        ...common,
        ...PERSIST(dir, 'a'),
        'connection to-b',
        `address 127.0.0.1:${portB}`,
        'topic crash/# out 2',
        'cleansession false',
        'remote_clientid crash-bridge',
        'restart_timeout 1',
        '',
      ].join('\n'),
    );
    slots.push(b, a);
    subPort = portB;
    pubPort = portA;
  } else {
    const port = await freePort();
    const conf = [...common, ...PERSIST(dir, 'p')];
    mkdirSync(path.join(dir, 'p'));
    if (mode === 'redis') {
      const rport = await freePort();
      const redis = new RedisSlot(rport, dir);
      slots.push(redis);
      conf.push(`redis_host 127.0.0.1`, `redis_port ${rport}`);
      // Topics under queue/#: Redis keeps the messages for absent subscribers.
      prefix = 'queue/crash';
    }
    slots.push(new BrokerSlot('broker', dir, port, [...conf, ''].join('\n')));
    subPort = port;
    pubPort = port;
  }
  for (const s of slots) await s.start();

  const clients = new CrashClients(prefix, () => subPort, () => pubPort);
  await clients.start();
  clients.run();
  const killsBy = new Map<string, number>();
  const t0 = Date.now();
  for (let k = 0; k < args.kills; k++) {
    await sleep(args.minGapMs + Math.random() * (args.maxGapMs - args.minGapMs));
    // Which to kill: in redis mode the broker mostly, redis-server or both sometimes; in
    // bridge mode either broker.
    let victims: Killable[];
    const r = Math.random();
    if (mode === 'redis') victims = r < 0.6 ? [slots[1]] : r < 0.85 ? [slots[0]] : [slots[0], slots[1]];
    else if (mode === 'bridge') victims = r < 0.5 ? [slots[0]] : [slots[1]];
    else victims = [slots[0]];
    for (const v of victims) {
      await v.kill();
      killsBy.set(v.name, (killsBy.get(v.name) ?? 0) + 1);
    }
    // Restart at once, or after a moment down (clients see connection refused).
    if (Math.random() < 0.3) await sleep(Math.random() * 500);
    for (const v of victims) await v.start();
  }
  const killPhaseMs = Date.now() - t0;
  clients.stopPublishing();
  // Let everything settle: the publisher's outstanding messages acknowledged, then every
  // owed delivery made (or 60 s pass).
  const settleStart = Date.now();
  let c: CrashCounts = count(clients.tally);
  while (Date.now() - settleStart < 60000) {
    c = count(clients.tally);
    if (clients.pending === 0 && c.missing === 0) break;
    await sleep(250);
  }
  // A little longer, so that late duplicates would be seen.
  await sleep(1500);
  c = count(clients.tally);
  await clients.end();
  for (const s of [...slots].reverse()) await s.stop();
  rmSync(dir, { recursive: true, force: true });
  const pass = c.missing === 0 && c.duplicatesQos2 === 0 && c.acked > 0;
  return { mode, kills: args.kills, killsBy: Object.fromEntries(killsBy), killPhaseMs, publisherUnacked: clients.pending, ...c, pass };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const results: Record<string, unknown>[] = [];
  for (const mode of args.modes) {
    process.stderr.write(`crash-loop: ${mode}, ${args.kills} kills ... `);
    const r = await runMode(mode, args);
    results.push(r);
    process.stderr.write(
      `${r.pass ? 'ok' : 'FAIL'}: ${r.acked} acknowledged (${r.ackedQos1} QoS 1, ${r.ackedQos2} QoS 2), ${r.owed} deliveries owed, ` +
        `${r.missing} missing, ${r.duplicatesQos2} QoS 2 duplicates, ${r.duplicatesQos1} QoS 1 duplicates (allowed)\n`,
    );
  }
  const pass = results.every((r) => r.pass === true);
  if (args.out !== undefined) {
    mkdirSync(args.out, { recursive: true });
    const result = { when: new Date().toISOString(), machine: { cpus: os.cpus().length, node: process.version, note: 'shared 2-core machine' }, pass, results };
    writeFileSync(path.join(args.out, 'crash-loop.json'), JSON.stringify(result, null, 2) + '\n');
  }
  process.stderr.write(pass ? 'crash-loop: PASS\n' : 'crash-loop: FAIL\n');
  process.exit(pass ? 0 : 1);
}

// Run as a program (npm run crash-loop), not when a test imports runMode.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    process.stderr.write(`crash-loop: ${err.stack ?? err.message}\n`);
    process.exit(2);
  });
}
