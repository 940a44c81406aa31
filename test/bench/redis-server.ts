// A throw-away redis-server for the scenarios that configure ts-mosquitto's Redis
// integration (issue 7): started on a free loopback port with no snapshots and no AOF,
// tracked like every other child (killed by pid after the scenario and on Ctrl-C), and
// queried for its command counts so that the table can show the writes really arrived.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './brokers.js';
import { stopChild, track } from './children.js';

export interface RunningRedis {
  port: number;
  pid: number;
  child: ChildProcess;
}

export function redisServerPath(): string | undefined {
  const dirs = ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')];
  return dirs.map((d) => path.join(d, 'redis-server')).find((p) => existsSync(p));
}

/** One connection, one command, then quit; throws if Redis does not answer in time. */
async function withRedis<T>(port: number, use: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  r.on('error', () => undefined); // reported through the rejected command instead
  try {
    await r.connect();
    return await use(r);
  } finally {
    r.disconnect();
  }
}

export async function startRedis(dir: string): Promise<RunningRedis> {
  const exe = redisServerPath();
  if (!exe) throw new Error('redis-server not installed');
  const port = await freePort();
  const logFile = path.join(dir, 'redis.log');
  const log = openSync(logFile, 'w');
  // No RDB snapshots, no AOF: nothing of the run is written to disk.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = track(spawn(exe, args, { stdio: ['ignore', log, log], cwd: dir }));
  closeSync(log);
  const redis = { port, pid: child.pid!, child };
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-2).join(' | ');
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode})${tail ? `: ${tail}` : ''}`);
    }
    try {
      if ((await withRedis(port, (r) => r.ping())) === 'PONG') return redis;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error('redis-server did not answer within 10 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function stopRedis(redis: RunningRedis): Promise<void> {
  return stopChild(redis.child);
}

export interface RedisSample {
  atMs: number;
  /** Calls per command name (lower case), from INFO commandstats; commands run by scripts count too. */
  calls: Record<string, number>;
}

export async function sampleRedis(port: number): Promise<RedisSample> {
  const info = await withRedis(port, (r) => r.info('commandstats'));
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return { atMs: performance.now(), calls };
}

export function listLength(port: number, key: string): Promise<number> {
  return withRedis(port, (r) => r.llen(key));
}
