/**
 * Differential testing of the clients: run Mosquitto's mosquitto_pub/sub/rr and ours with
 * the same arguments and compare stdout, stderr and exit code after blanking the parts that
 * differ by nature (program name, version, generated client ids).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { haveProgram, startMosquitto } from './helpers/mosquitto.js';
import { startBroker, stopBrokers } from './helpers/broker.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Prog = 'pub' | 'sub' | 'rr';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** Kill the process (by pid) after this long; a safety net, not an assertion. */
  killAfterMs?: number;
  keepStdinOpen?: boolean;
}

/** True when Mosquitto's clients and broker are installed (a failure under CI when not). */
export const haveMosquitto = haveProgram('mosquitto_pub') && haveProgram('/usr/sbin/mosquitto');

/** An empty home, so that no real options file is read. */
const emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-home-'));

export function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: emptyHome, TZ: 'UTC', ...extra };
  delete env.XDG_CONFIG_HOME;
  if (extra.XDG_CONFIG_HOME !== undefined) env.XDG_CONFIG_HOME = extra.XDG_CONFIG_HOME;
  delete env.NO_COLOR;
  return env;
}

const live = new Set<number>();

export interface Started {
  done: Promise<RunResult>;
  /** Standard output so far. */
  output(): string;
  pid: number;
}

/** Spawn a program; its output is collected and it is killed by pid after killAfterMs. */
export function start(cmd: string[], opts: RunOptions = {}): Started {
  const child = spawn(cmd[0], cmd.slice(1), { env: opts.env ?? baseEnv(), stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
  const pid = child.pid as number;
  live.add(pid);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.killAfterMs ?? 15000);
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(pid);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
  });
  child.stdin.on('error', () => {});
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else if (opts.keepStdinOpen !== true) child.stdin.end();
  return { done, pid, output: () => Buffer.concat(out).toString('utf8') };
}

export function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  return start(cmd, opts).done;
}

/** Kill anything still running (afterEach). */
export function killAll(): void {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

export function ours(prog: Prog): string[] {
  return [process.execPath, path.join(ROOT, 'bin', `ts-mosquitto_${prog}.js`)];
}

export function theirs(prog: Prog): string[] {
  return [`mosquitto_${prog}`];
}

/** Blank what differs by nature: our program names, versions and generated client ids. */
export function normalise(s: string): string {
  return s
    .replace(/ts-mosquitto_(pub|sub|rr)/g, 'mosquitto_$1')
    .replace(/version \S+ running on (lib)?(ts-)?mosquitto \S+\./g, 'version V running on LIB.')
    .replace(/auto-[0-9A-F-]{36}/g, 'auto-ID')
    .replace(/mosq-[A-Za-z0-9]{18}/g, 'mosq-ID');
}

/** Runs mosquitto_PROG and ours with the same arguments: the same output and exit status, normalised. */
export async function expectSame(prog: Prog, args: string[], opts: RunOptions = {}): Promise<void> {
  const a = await run([...theirs(prog), ...args], opts);
  const b = await run([...ours(prog), ...args], opts);
  expect(normalise(b.stderr)).toBe(normalise(a.stderr));
  expect(normalise(b.stdout)).toBe(normalise(a.stdout));
  expect(b.code).toBe(a.code);
}

export interface Target {
  name: string;
  port: number;
  stop(): Promise<void>;
}

export type BrokerKind = 'mosquitto' | 'ts-mosquitto';

/** The brokers differential tests run against: Mosquitto's, and ours (in-process). */
export const BROKERS: BrokerKind[] = ['mosquitto', 'ts-mosquitto'];

export async function startTarget(kind: BrokerKind, extraConf: string[] = []): Promise<Target> {
  if (kind === 'mosquitto') {
    const m = await startMosquitto(extraConf, false);
    return { name: kind, port: m.port, stop: () => m.stop() };
  }
  const b = await startBroker();
  return { name: kind, port: b.port, stop: () => stopBrokers() };
}

/**
 * For a describe block: Mosquitto refusing anonymous clients (allow_anonymous false),
 * started before its tests and stopped after them; the port, inside a test.
 */
export function refusingMosquitto(): () => number {
  let target: Target | undefined;
  beforeAll(async () => {
    target = await startTarget('mosquitto', ['allow_anonymous false']);
  });
  afterAll(async () => {
    await target?.stop();
  });
  return () => target!.port;
}

/** Wait until a subscriber's SUBACK is in: its debug output says so. */
export async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}
