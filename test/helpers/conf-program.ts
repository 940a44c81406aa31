/**
 * Runs a broker program (ts-mosquitto or Mosquitto itself) on a mosquitto.conf written for
 * the test, collects what it prints, and stops it by its pid. Used to run the same
 * configuration through both programs and compare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const TS_MOSQUITTO = path.resolve('bin/ts-mosquitto.js');

export interface RunningProgram {
  proc: ChildProcess;
  dir: string;
  /** stdout and stderr lines, in arrival order. */
  lines: string[];
  stdout: string[];
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running: RunningProgram[] = [];

/** For programs whose log says nothing on start-up: polls until the TCP port accepts. */
async function waitForPort(p: RunningProgram, port: number): Promise<void> {
  for (let i = 0; i < 160; i++) {
    if (p.proc.exitCode !== null) throw new Error(`exited (${p.proc.exitCode}); output:\n${p.lines.join('\n')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened; output:\n${p.lines.join('\n')}`);
}

export function tempDir(prefix = 'tsm-conf-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts `program` ('ts' for ts-mosquitto, or a path such as /usr/sbin/mosquitto) with
 * `-c conf` made of the given lines; resolves once `ready` (default: the running line) is
 * seen on stdout/stderr. `cwd` and the config path may be given for relative-path tests.
 */
export async function runProgram(
  program: 'ts' | string,
  confLines: string[],
  opts: { ready?: RegExp | number; readyNow?: boolean; cwd?: string; dir?: string; confArg?: string; env?: NodeJS.ProcessEnv; uid?: number; nodeArgs?: string[] } = {},
): Promise<RunningProgram> {
  const dir = opts.dir ?? tempDir();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, confLines.join('\n') + '\n');
  const confArg = opts.confArg ?? conf;
  const [cmd, args] = program === 'ts' ? [process.execPath, [...(opts.nodeArgs ?? []), TS_MOSQUITTO, '-c', confArg]] : [program, ['-c', confArg]];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? dir, env: opts.env ?? process.env });
  const lines: string[] = [];
  const stdout: string[] = [];
  const waiters: (() => void)[] = [];
  const feed = (into: string[] | undefined) => {
    let buf = '';
    return (chunk: Buffer): void => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        lines.push(line);
        into?.push(line);
        buf = buf.slice(nl + 1);
      }
      for (const w of waiters.splice(0)) w();
    };
  };
  proc.stdout!.on('data', feed(stdout));
  proc.stderr!.on('data', feed(undefined));
  proc.on('exit', () => {
    for (const w of waiters.splice(0)) w();
  });
  const p: RunningProgram = {
    proc,
    dir,
    lines,
    stdout,
    waitForLine(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(match)}; output:\n${lines.join('\n')}`)), timeoutMs);
        const check = (): void => {
          const found = lines.find((l) => (typeof match === 'string' ? l === match : match.test(l)));
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited (${proc.exitCode}) before ${String(match)}; output:\n${lines.join('\n')}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    stop(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        const i = running.indexOf(p);
        if (i !== -1) running.splice(i, 1);
        if (proc.exitCode !== null || proc.signalCode !== null) {
          resolve(proc.exitCode);
          return;
        }
        proc.once('exit', (code) => resolve(code));
        if (proc.pid !== undefined) process.kill(proc.pid, signal);
      });
    },
  };
  running.push(p);
  if (opts.readyNow === true) return p;
  if (typeof opts.ready === 'number') await waitForPort(p, opts.ready);
  else await p.waitForLine(opts.ready ?? /mosquitto version .* running/, 8000);
  return p;
}

/** Stops every program still running (afterEach), by pid, and removes its directory. */
export async function stopPrograms(): Promise<void> {
  const all = running.splice(0);
  await Promise.all(
    all.map(async (p) => {
      await p.stop('SIGKILL');
      fs.rmSync(p.dir, { recursive: true, force: true });
    }),
  );
}
