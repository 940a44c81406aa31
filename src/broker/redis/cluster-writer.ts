/**
 * The write connection of a RedisLink on a Redis Cluster (redis_cluster_nodes): the same
 * role as RespSocket (resp-socket.ts), which talks to one server, but each command the
 * write buffer holds is sent through an ioredis Cluster, which sends it to the master of
 * its key's slot (and follows MOVED/ASK), auto-pipelined per master within an event-loop turn.
 * The buffer's RESP commands (arrays of bulk strings, resp-queue.ts) are read back into
 * arguments for that. Replies are counted in the order the commands were written, as
 * RespSocket does, so that RedisLink's reads still wait for the writes before them.
 */
import { Command, type Cluster } from 'ioredis';
import type { RespSocketHandler } from './resp-socket.js';
import { readCommands } from './resp-queue.js';

export { readCommands };

export class ClusterWriter {
  /** Commands sent and not yet counted: undefined while unanswered, null for a success, else the error. */
  private readonly results: (string | null | undefined)[] = [];
  /** Bumped on every loss: answers to commands of an earlier connection are ignored. */
  private epoch = 0;
  private up = false;
  /** Commands counted since the connection opened: results[k] is the command base + k. */
  private base = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly handler: RespSocketHandler,
  ) {
    cluster.on('ready', () => {
      this.up = true;
      handler.ready();
    });
    const down = (): void => {
      if (!this.up) return;
      this.up = false;
      this.epoch++;
      this.results.length = 0;
      this.base = 0;
      handler.down(new Error('connection lost'));
    };
    cluster.on('close', down);
    cluster.on('end', down);
    cluster.on('error', () => undefined);
  }

  get ready(): boolean {
    return this.up && this.cluster.status === 'ready';
  }

  /** ioredis takes each command at once: the buffer is never held for a write under way. */
  get busy(): boolean {
    return false;
  }

  connect(): void {
    this.cluster.connect().catch(() => undefined);
  }

  write(b: Buffer, _last = true): boolean {
    if (!this.ready) return false;
    const epoch = this.epoch;
    for (const [name, args] of readCommands(b)) {
      const i = this.base + this.results.length;
      this.results.push(undefined);
      this.send(name, args).then(
        () => this.answered(epoch, i, null),
        (e: unknown) => this.answered(epoch, i, e instanceof Error ? e.message : String(e)),
      );
    }
    return true;
  }

  /**
   * Through the command's own method (hsetBuffer, evalBuffer, ...) when ioredis has one,
   * so that auto-pipelining gathers a turn's commands per master; ioredis's call() loses
   * the command name when auto-pipelined, so a command it does not know (a hook's) is
   * sent as a Command of its own.
   */
  private send(name: string, args: Buffer[]): Promise<unknown> {
    const method = (this.cluster as unknown as Record<string, unknown>)[name.toLowerCase() + 'Buffer'];
    if (typeof method === 'function') return (method as (...a: Buffer[]) => Promise<unknown>).apply(this.cluster, args);
    const c = new Command(name, args);
    void this.cluster.sendCommand(c);
    return c.promise;
  }

  close(): void {
    this.up = false;
    this.epoch++;
    this.cluster.disconnect();
  }

  /** Counts the answers that arrived, in the order the commands were written. */
  private answered(epoch: number, i: number, err: string | null): void {
    if (epoch !== this.epoch) return;
    const r = this.results;
    // Indexes shift as answered commands are counted: `base` is how many were counted since.
    r[i - this.base] = err;
    let n = 0;
    while (n < r.length && r[n] !== undefined) {
      const e = r[n];
      if (e !== null && e !== undefined) this.handler.replyError(n, e);
      n++;
    }
    if (n === 0) return;
    r.splice(0, n);
    this.base += n;
    this.handler.replies(n);
  }

}
