/**
 * The real Eclipse Mosquitto, run as the executable specification: same raw exchange
 * against it and against ts-mosquitto, then compare log lines minus timestamps and ports.
 * Tests using it skip only when the program is absent and CI is not 'true'.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../shared/free-port.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** True when Mosquitto's own programs may be used; absent under CI=true is a failure. */
export function haveProgram(program: string): boolean {
  const found = fs.existsSync(program) || spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
  if (!found && process.env.CI === 'true') throw new Error(`${program} is required under CI`);
  return found;
}

export { freePort };

export interface RealMosquitto {
  port: number;
  proc: ChildProcess;
  lines: string[];
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts /usr/sbin/mosquitto on a free loopback port: with `-v` and `log_type all` when
 * verbose, else with Mosquitto's default log types.
 */
export async function startMosquitto(extraConf: string[] = [], verbose = true): Promise<RealMosquitto> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', ...(verbose ? ['log_type all'] : []), 'log_dest stderr', ...extraConf, ''].join('\n'),
  );
  const proc = spawn(MOSQUITTO, verbose ? ['-c', conf, '-v'] : ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  const onData = (chunk: Buffer): void => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      lines.push(buf.slice(0, nl).replace(/^\d+: /, ''));
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const m: RealMosquitto = {
    port,
    proc,
    lines,
    waitForLine(match, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`mosquitto: timed out waiting for ${String(match)}; log:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        const check = (): void => {
          const found = lines.find((l) => (typeof match === 'string' ? l === match : match.test(l)));
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
          return;
        }
        proc.once('exit', () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
  await m.waitForLine(/^mosquitto version .* running$/, 5000);
  return m;
}

/** Log lines with ports, generated ids and version numbers blanked, for side-by-side comparison. */
export function normalise(line: string): string {
  return line
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/on port \d+/g, 'on port PORT')
    .replace(/auto-[0-9A-F-]{36}/g, 'auto-ID');
}
