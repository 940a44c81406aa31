// The three brokers under test, each started fresh per scenario on its own loopback port
// (never 1883) and stopped by pid: ts-mosquitto and Mosquitto from a mosquitto.conf,
// Aedes from a small child program over a plain net server.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../shared/free-port.js';
import { stopChild, track } from './children.js';

/** `net`: no broker, Node's bare `net` server, run only where a scenario measures the floor (issue 17). */
export type BrokerName = 'ts' | 'mosquitto' | 'aedes' | 'net';
export const BROKERS: BrokerName[] = ['ts', 'mosquitto', 'aedes'];
export const BROKER_LABEL: Record<BrokerName, string> = {
  ts: 'ts-mosquitto',
  mosquitto: 'mosquitto',
  aedes: 'aedes',
  net: 'bare net server (floor)',
};

/** The repository root: compiled, this file is in dist-bench/bench/, two levels below it. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BrokerOptions {
  persistenceDir?: string;
  /** mosquitto.conf password_file (ts-mosquitto, Mosquitto) or bcrypt file (Aedes). */
  passwordFile?: string;
  /** `set_tcp_nodelay true` (Aedes: a noDelay net server). */
  tcpNoDelay?: boolean;
  /** Open-file limit to run the broker under (raised with `ulimit -n` in a shell). */
  fdLimit?: number;
  /** Further mosquitto.conf lines (ts-mosquitto's own options, e.g. redis_*); Aedes ignores them. */
  extraConf?: string[];
}

export interface RunningBroker {
  name: BrokerName;
  pid: number;
  port: number;
  child: ChildProcess;
  logFile: string;
}

export function mosquittoPath(): string | undefined {
  const dirs = ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(':')];
  return dirs.map((d) => path.join(d, 'mosquitto')).find((p) => existsSync(p));
}

/** Why a broker cannot run here, or undefined when it can. */
export function unavailableReason(name: BrokerName): string | undefined {
  switch (name) {
    case 'ts':
      return existsSync(path.join(ROOT, 'dist/cli/broker.js')) ? undefined : 'dist/cli/broker.js not built';
    case 'mosquitto':
      return mosquittoPath() ? undefined : 'mosquitto not installed';
    case 'aedes':
      return existsSync(path.join(ROOT, 'node_modules/aedes/package.json')) ? undefined : 'aedes not installed';
    case 'net':
      return existsSync(path.join(ROOT, 'dist-bench/bench/net-floor-server.js')) ? undefined : 'dist-bench/bench/net-floor-server.js not built';
  }
}

export { freePort };

function mosquittoConf(port: number, opts: BrokerOptions): string {
  const lines = [`listener ${port} 127.0.0.1`];
  if (opts.tcpNoDelay) lines.push('set_tcp_nodelay true');
  if (opts.passwordFile) {
    lines.push('allow_anonymous false', `password_file ${opts.passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.persistenceDir) lines.push('persistence true', `persistence_location ${opts.persistenceDir}/`);
  if (opts.extraConf) lines.push(...opts.extraConf);
  return lines.join('\n') + '\n';
}

/** Runs `cmd args` under a raised open-file limit when one is asked for. */
function command(cmd: string, args: string[], fdLimit: number | undefined): [string, string[]] {
  if (fdLimit === undefined) return [cmd, args];
  return ['/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, cmd, ...args]];
}

export async function startBroker(name: BrokerName, dir: string, opts: BrokerOptions): Promise<RunningBroker> {
  const port = await freePort();
  const conf = path.join(dir, `${name}.conf`);
  const logFile = path.join(dir, `${name}.log`);
  let cmd: string;
  let args: string[];
  if (name === 'net') {
    cmd = process.execPath;
    args = [path.join(ROOT, 'dist-bench/bench/net-floor-server.js'), String(port)];
  } else if (name === 'aedes') {
    cmd = process.execPath;
    args = [path.join(ROOT, 'dist-bench/bench/aedes-server.js'), String(port), opts.tcpNoDelay ? 'nodelay' : 'delay'];
    if (opts.passwordFile) args.push(opts.passwordFile);
  } else {
    writeFileSync(conf, mosquittoConf(port, opts));
    if (name === 'ts') {
      cmd = process.execPath;
      args = [path.join(ROOT, 'bin/ts-mosquitto.js'), '-c', conf];
    } else {
      cmd = mosquittoPath()!;
      args = ['-c', conf];
    }
  }
  // Broker logs go to a file: a pipe nobody reads would block the broker once full.
  const log = openSync(logFile, 'w');
  const [file, argv] = command(cmd, args, opts.fdLimit);
  const child = track(spawn(file, argv, { stdio: ['ignore', log, log], cwd: dir }));
  closeSync(log);
  const broker = { name, pid: child.pid!, port, child, logFile };
  try {
    await waitForPort(port, child);
  } catch (err) {
    await stopChild(child);
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${(err as Error).message}${tail ? `: ${tail}` : ''}`);
  }
  return broker;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`broker exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('broker did not listen within 15 s');
}

/** The soft open-file limit of a running process (/proc/PID/limits), if readable. */
export function openFileLimit(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.trim().split(/\s+/)[3];
    return soft === undefined ? undefined : soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
  } catch {
    return undefined;
  }
}

export function stopBroker(broker: RunningBroker): Promise<void> {
  return stopChild(broker.child);
}
