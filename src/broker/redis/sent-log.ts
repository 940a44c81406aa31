/**
 * The writes sent to Redis and not yet answered, as the chunks written with their command
 * counts (issue 7). Replies are only counted; when one is an error, the command it answers
 * is read back from these bytes, so that nothing is recorded per command for the error
 * line. The chunks are views of the write buffer, which is never written to again.
 */
import { OWN_SCRIPTS } from './own-scripts.js';
import { readCommands } from './resp-queue.js';

export class SentLog {
  private chunks: Buffer[] = [];
  private counts: number[] = [];
  private head = 0;
  /** Replies already counted for chunks[head]. */
  private done = 0;

  push(b: Buffer, commands: number): void {
    this.chunks.push(b);
    this.counts.push(commands);
  }

  /** `n` more replies arrived. */
  answered(n: number): void {
    let a = this.done + n;
    let h = this.head;
    const counts = this.counts;
    while (h < counts.length && a >= counts[h]) a -= counts[h++];
    this.done = a;
    this.head = h;
    if (h === counts.length) this.clear();
    else if (h >= 64) {
      this.chunks = this.chunks.slice(h);
      this.counts = counts.slice(h);
      this.head = 0;
    }
  }

  /** Name of the command answered by the reply `index` after those counted so far. */
  commandAt(index: number): string {
    let k = this.done + index;
    let h = this.head;
    while (h < this.counts.length && k >= this.counts[h]) k -= this.counts[h++];
    return h < this.chunks.length ? commandName(this.chunks[h], k) : '?';
  }

  /** The connection is gone, and with it every reply still owed. */
  clear(): void {
    this.chunks = [];
    this.counts = [];
    this.head = 0;
    this.done = 0;
  }
}

/** Names of the integration's own scripts by their text, for error lines. */
const SCRIPT_NAMES = new Map(Object.entries(OWN_SCRIPTS).map(([name, text]) => [text, name]));

/**
 * The name of the `k`-th command in `b` (RESP arrays of bulk strings, as written), or of
 * the own script it runs with EVAL. Only read for error replies.
 */
export function commandName(b: Buffer, k: number): string {
  const cmd = readCommands(b)[k];
  if (cmd === undefined) return '?';
  const [name, args] = cmd;
  if (name.toUpperCase() === 'EVAL' && args.length > 0) return SCRIPT_NAMES.get(args[0].toString()) ?? name;
  return name;
}
