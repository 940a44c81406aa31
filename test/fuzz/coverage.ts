/**
 * Coverage feedback from V8's own precise block coverage (node:inspector), the data
 * `c8` and `node --experimental-test-coverage` use: after each input, the block counts of
 * ts-mosquitto's compiled code and mqtt-packet are read (and reset), and each block seen
 * with a count in a new power-of-two bucket is a new feature, as libFuzzer counts them.
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

function bucket(count: number): number {
  if (count === 0) return 0;
  if (count < 4) return 1 << (count - 1); // 1, 2, 3 -> bits 0..2
  if (count < 8) return 8;
  if (count < 16) return 16;
  if (count < 32) return 32;
  if (count < 128) return 64;
  return 128;
}

export class Coverage {
  private session = new Session();
  /** url#offset -> buckets seen so far. */
  private seen = new Map<string, number>();
  private urlFilter: (url: string) => boolean;
  features = 0;

  constructor(urlFilter: (url: string) => boolean) {
    this.urlFilter = urlFilter;
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  private post(method: string, params?: object): unknown {
    let out: unknown;
    let error: Error | null = null;
    // The in-process session answers synchronously.
    this.session.post(method, params, (err, res) => {
      error = err;
      out = res;
    });
    if (error !== null) throw error;
    return out;
  }

  /**
   * Counts since the last call; returns how many new features they show. With `commit`
   * false (a batch of inputs) only blocks never reached before count, and are not yet
   * recorded: the batch's inputs are then run one by one to find which reach them, and
   * commitPending() records the rest afterwards.
   */
  collect(commit = true): number {
    const res = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    let fresh = 0;
    for (const script of res.result) {
      if (!this.urlFilter(script.url)) continue;
      const url = script.url;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count === 0) continue;
          const key = `${url}#${r.startOffset}`;
          const had = this.seen.get(key) ?? 0;
          // A batch's counts are sums over its inputs: only blocks never reached count.
          if (!commit && had !== 0) continue;
          const b = bucket(r.count);
          if ((had & b) === 0) {
            fresh++;
            if (commit) this.seen.set(key, had | b);
            else this.pending.push(key, b);
          }
        }
      }
    }
    if (commit) this.features += fresh;
    return fresh;
  }

  private pending: (string | number)[] = [];

  /** Records what the last uncommitted collect() found (those not since seen one by one). */
  commitPending(): void {
    const p = this.pending;
    for (let i = 0; i < p.length; i += 2) {
      const key = p[i] as string;
      const b = p[i + 1] as number;
      const had = this.seen.get(key) ?? 0;
      if ((had & b) === 0) {
        this.seen.set(key, had | b);
        this.features++;
      }
    }
    this.pending = [];
  }

  /** Drops what an uncommitted collect() found. */
  dropPending(): void {
    this.pending = [];
  }
}
