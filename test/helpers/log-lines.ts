/**
 * The log lines of an in-process Broker, captured through a log sink, and waiting for one
 * of them. Shared by the test helpers that start brokers (broker.ts, redis-server.ts, the
 * bridge tests' helpers).
 */
import type { LogSink } from '../../src/broker/log.js';

export type LineMatch = string | RegExp;

/** A string matches the whole line; a RegExp is tested against it. */
export function lineMatches(line: string, m: LineMatch): boolean {
  return typeof m === 'string' ? line === m : m.test(line);
}

export class LogLines {
  /** Lines with the `TIMESTAMP: ` prefix removed. */
  readonly lines: string[] = [];
  /** Lines as written, with the timestamp. */
  readonly rawLines: string[] = [];
  private waiters: (() => void)[] = [];

  readonly sink: LogSink = {
    write: (_type, line) => {
      this.rawLines.push(line);
      this.lines.push(line.replace(/^\d+: /, ''));
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    },
  };

  count(m: LineMatch): number {
    return this.lines.filter((l) => lineMatches(l, m)).length;
  }

  has(m: LineMatch): boolean {
    return this.lines.some((l) => lineMatches(l, m));
  }

  /** Resolves with the `n`-th line that matches, once there is one. */
  waitFor(m: LineMatch, timeoutMs: number, n = 1): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.filter((l) => lineMatches(l, m));
        if (found.length >= n) {
          clearTimeout(timer);
          resolve(found[n - 1]!);
        } else this.waiters.push(check);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(check);
        if (i !== -1) this.waiters.splice(i, 1);
        const what = n === 1 ? String(m) : `${n} x ${String(m)}`;
        reject(new Error(`timed out waiting for log line ${what}; log:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      check();
    });
  }
}
