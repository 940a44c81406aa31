/**
 * Programs a test runs (Mosquitto's clients, ours): started with their output collected,
 * and killed by pid in afterEach (killSpawned) if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children: ChildProcess[] = [];

export interface Spawned {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr together, as they arrived. */
  all(): string;
  /** The exit code, once the process has exited and its output has all been read. */
  exited: Promise<number | null>;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Kills this child in afterEach (killSpawned) if it is still running then. */
export function trackChild(child: ChildProcess): void {
  children.push(child);
}

/**
 * Starts `program` with its output piped: a path ending in .js runs under this node,
 * relative to the repository root unless absolute; anything else is run as it is.
 */
export function spawnProgram(program: string, args: string[]): Spawned {
  const [cmd, argv] = program.endsWith('.js') ? [process.execPath, [path.resolve(ROOT, program), ...args]] : [program, args];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(proc);
  let out = '';
  let err = '';
  let all = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    all += d.toString();
  });
  // 'close', not 'exit': the exit can come before the last of the output has been read.
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, stdout: () => out, stderr: () => err, all: () => all, exited };
}

/** Runs a program to its end, killed after `killAfterMs` so that a hang fails instead of blocking. */
export function runToEnd(program: string, args: string[], killAfterMs = 10000): Promise<RunResult> {
  const s = spawnProgram(program, args);
  return new Promise((resolve) => {
    const timer = setTimeout(() => s.proc.kill('SIGKILL'), killAfterMs);
    s.proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: s.stdout(), stderr: s.stderr() });
    });
  });
}

/** Kills every program still running (afterEach), by pid. */
export function killSpawned(): void {
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // reaped between the check and the kill
    }
  }
}
