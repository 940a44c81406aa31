/**
 * One Redis connection as the broker uses it. Writes are encoded as RESP into one buffer
 * (resp-queue.ts) and written to a connection of their own (resp-socket.ts) once per
 * event-loop turn, as plain pipelined commands, so that routing never waits on Redis and
 * costs no command object or promise per write (issue 7, Speed). Reads, pub/sub and the
 * rest go through ioredis, only off the message path and always with a timeout; a read
 * waits for the writes already sent to be answered first, so that it sees them as it did
 * when both shared one connection.
 *
 * Redis may be down at start or go away later. ioredis's own offline queue is disabled
 * (it would grow without bound); instead writes wait in a bounded buffer while Redis is
 * unreachable and anything beyond it is dropped and counted. One warning is logged per
 * outage, both connections reconnect with a capped backoff, and `onReady` callbacks run
 * on every (re)connection before the buffered writes go out, so that presence can be
 * rewritten.
 */
import type { Cluster } from 'ioredis';
import type { Log } from '../log.js';
import { describeRedis, ioredisOptions, onNodeReconnected, openClient, writerOptions, type RedisClient, type RedisCommand, type RedisLinkOptions } from './link-options.js';
import { ClusterWriter } from './cluster-writer.js';
import { OWN_SCRIPT_KEYS, OWN_SCRIPTS } from './own-scripts.js';
import { RespQueue } from './resp-queue.js';
import { RespSocket } from './resp-socket.js';
import { SentLog } from './sent-log.js';

export { describeRedis, type RedisCommand, type RedisLinkOptions } from './link-options.js';

const DEFAULT_MAX_BUFFERED = 100_000;
const DEFAULT_MAX_INFLIGHT = 100_000;

export class RedisLink {
  readonly redis: RedisClient;
  readonly label: string;
  /** Writes dropped because the buffer was full while Redis was away. */
  dropped = 0;
  /** Commands Redis answered with an error (bad hook command, wrong type, ...). */
  errors = 0;
  /**
   * The write buffer. A write is `begin()`, then the command's parts appended here
   * (its head, then its arguments), then `end()`; `send()` does all of it for a command
   * given as an array.
   */
  readonly out = new RespQueue();
  private readonly writer: RespSocket | ClusterWriter | null;
  /** What was written and not yet answered, to name the command of an error reply. */
  private readonly sent = new SentLog();
  /** Commands written and not yet answered. */
  private inflight = 0;
  /** Replies counted since the write connection opened; reads wait for a count (see read()). */
  private answered = 0;
  private readonly barriers: { at: number; go: () => void }[] = [];
  private flushScheduled = false;
  private readonly sources: { encodePending(): void }[] = [];
  /** A source has writes not yet encoded (see addSource). */
  private deferred = false;
  /** Logged that Redis, while connected, cannot keep up (once per link). */
  private lagWarned = false;
  /** Inside essential(): writes ignore maxBuffered. */
  private unbounded = false;
  /** The ready callbacks ran for the current connections: buffered writes may go out. */
  private synced = false;
  /** True while onReady callbacks run: writes wait so that they land after the resync. */
  private syncing = false;
  /** Counts losses of either connection, so that a resync cut short is run again. */
  private epoch = 0;
  private warned = false;
  private everReady = false;
  private closed = false;
  private readonly maxBuffered: number;
  private readonly maxInflight: number;
  private readonly readyCallbacks: (() => Promise<void>)[] = [];
  /** Resolved after the ready callbacks of a connection have run. */
  private syncedWaiters: (() => void)[] = [];
  private readonly quiet: boolean;
  private readonly seenErrors = new Set<string>();
  private readonly log: Log;
  private readonly flushNow = (): void => this.flush();
  private readonly flushAfterRouting = (): void => {
    setImmediate(this.flushNow);
  };

  constructor(options: RedisLinkOptions, log: Log) {
    this.log = log;
    this.label = options.label ?? describeRedis(options);
    this.quiet = options.quiet === true;
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    const ro = ioredisOptions(options);
    this.redis = openClient(options, ro);
    this.redis.on('error', (err: Error) => this.warnOnce(err));
    this.redis.on('ready', () => void this.maybeSync());
    this.redis.on('close', () => {
      if (this.everReady && !this.closed) this.warnOnce(new Error('connection lost'));
      this.lost();
    });
    if (options.writes === false) {
      this.writer = null;
      return;
    }
    const handler = {
      ready: () => void this.maybeSync(),
      down: (err: Error) => this.writerDown(err),
      replyError: (i: number, message: string) => this.replyError(i, message),
      replies: (n: number) => this.replies(n),
      drained: () => {
        if (this.out.queued > 0 && !this.flushScheduled) this.flush();
      },
    };
    // A Redis Cluster: the writes go through a Cluster client of their own, auto-pipelined per master.
    const writes = options.cluster != null && options.cluster.length > 0 ? (openClient(options, { ...ro, enableAutoPipelining: true }) as Cluster) : null;
    this.writer = writes !== null ? new ClusterWriter(writes, handler) : new RespSocket(writerOptions(options), handler);
    // A node of the Redis Cluster came back without a 'ready' (link-options.ts says when):
    // it may have restarted empty, so the ready callbacks run again (writes wait meanwhile).
    for (const c of [this.redis, writes]) {
      if (c !== null) onNodeReconnected(c, () => {
        this.lost();
        void this.maybeSync();
      });
    }
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Writes buffered or sent and not yet answered: how far Redis is behind the broker. */
  get pendingWrites(): number {
    return this.out.queued + this.inflight;
  }

  /** Registers work to do on every (re)connection before buffered writes are sent. */
  onReady(cb: () => Promise<void>): void {
    this.readyCallbacks.push(cb);
  }

  /**
   * Starts connecting; resolves once connected and resynchronised (the ready callbacks
   * ran), once the first attempt failed, or after `timeoutMs`, so that a dead Redis never
   * holds up the broker's start.
   */
  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.syncedWaiters.push(done);
      this.redis.connect().catch(done);
      this.writer?.connect();
    });
  }

  /**
   * Starts a write; false if the buffer is full, and the write is dropped and counted:
   * append nothing then.
   */
  begin(): boolean {
    if (this.deferred) this.materialize();
    if ((this.out.queued >= this.maxBuffered && !this.unbounded) || this.writer === null) {
      this.dropped++;
      if (this.synced && !this.lagWarned && this.writer !== null) {
        // Connected, but Redis answers slower than the broker writes: say so once.
        this.lagWarned = true;
        this.log.warning(
          `Warning: Redis at ${this.label} is not keeping up with the broker's writes; writes beyond ${this.maxBuffered} waiting are dropped and counted.`,
        );
      }
      return false;
    }
    this.out.begin();
    return true;
  }

  /** Ends the write begun with begin(); it goes out with this turn's writes. Never blocks. */
  end(): void {
    this.out.end();
    if (!this.flushScheduled) this.schedule();
  }

  /**
   * Registers a source of deferred writes (the publish hooks): before any other write
   * and before sending, `encodePending()` is called so that its writes take their place
   * in order. A source calls `later()` when it has some.
   */
  addSource(source: { encodePending(): void }): void {
    this.sources.push(source);
  }

  /** A source has writes to encode before the next write or flush (see addSource). */
  later(): void {
    this.deferred = true;
    if (!this.flushScheduled) this.schedule();
  }

  /**
   * Writes go out once per event-loop turn, after the turn's routed messages were
   * written to their subscribers: the broker queues those writes with setImmediate while
   * it handles a socket's data, and this schedules ours from process.nextTick, i.e. once
   * that handling is over, so ours are queued behind them. Encoding and writing Redis
   * commands (and waking redis-server) then happens while the clients read, not between
   * a message's arrival and its delivery.
   */
  private schedule(): void {
    this.flushScheduled = true;
    process.nextTick(this.flushAfterRouting);
  }

  private materialize(): void {
    this.deferred = false;
    const s = this.sources;
    for (let i = 0; i < s.length; i++) s[i].encodePending();
  }

  /**
   * Runs `fn`, whose writes are kept even when the buffer is full: the resync of presence
   * on reconnection, which must not be lost to writes buffered during the outage. Its
   * size is bounded by what it rewrites (the clients connected here), not by traffic.
   */
  essential(fn: () => void): void {
    this.unbounded = true;
    try {
      fn();
    } finally {
      this.unbounded = false;
    }
  }

  /** Queues a write for this turn's batch. Never blocks, never throws. */
  send(cmd: RedisCommand): void {
    if (!this.begin()) return;
    const name = cmd[0];
    const script = typeof name === 'string' && name.charCodeAt(0) === 64 ? OWN_SCRIPTS[name] : undefined;
    // @offline KEY... ARG... -> EVAL <script> <number of keys> KEY... ARG...
    this.out.command(script !== undefined ? ['EVAL', script, OWN_SCRIPT_KEYS[name as string], ...cmd.slice(1)] : cmd);
    this.end();
  }

  /**
   * A read off the message path: rejects when Redis is down or slower than `timeoutMs`.
   * It is sent once the writes already sent are answered (they travel on the other
   * connection), so that it sees them.
   */
  read<T>(fn: (r: RedisClient) => Promise<T>, timeoutMs: number): Promise<T> {
    if (!this.ready) return Promise.reject(new Error('Redis unavailable'));
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new Error('Redis timeout'));
      }, timeoutMs);
      const go = (): void => {
        if (timedOut) return;
        fn(this.redis).then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      };
      if (this.inflight === 0) go();
      else this.barriers.push({ at: this.answered + this.inflight, go });
    });
  }

  /**
   * Sends buffered writes when Redis is ready, resynchronised and has room: each chunk
   * of the buffer as it is (a view, not copied again), usually one; while a write is
   * under way the next ones wait for it (RespSocket.write).
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.deferred) this.materialize();
    const w = this.writer;
    if (this.closed || this.syncing || !this.synced || w === null || !w.ready || w.busy) return;
    const out = this.out;
    out.seal();
    let b: Buffer | null = null;
    while (out.ready) {
      const n = out.nextCount();
      if (this.inflight > 0 && this.inflight + n > this.maxInflight) break;
      if (b !== null) w.write(b, false);
      b = out.shift();
      this.inflight += n;
      this.sent.push(b, n);
    }
    if (b !== null) w.write(b, true);
  }

  private replies(n: number): void {
    this.inflight -= n;
    this.answered += n;
    this.sent.answered(n);
    const b = this.barriers;
    while (b.length > 0 && b[0].at <= this.answered) b.shift()!.go();
    if (this.out.ready && !this.flushScheduled) this.schedule();
  }

  private replyError(index: number, message: string): void {
    this.errors++;
    this.commandError(this.sent.commandAt(index), message);
  }

  private commandError(name: string, message: string): void {
    // A bad hook command fails on every message: say so once per command and kind of error
    // (the message itself may quote the arguments).
    const key = `${name} ${message.split(' ', 1)[0]}`;
    if (this.seenErrors.has(key) || this.seenErrors.size >= 100) return;
    this.seenErrors.add(key);
    this.log.warning(`Warning: Redis ${this.label} refused a command: ${name}: ${message}`);
  }

  private writerDown(err: Error): void {
    // What was in flight is gone, and reads waiting on it may proceed.
    this.sent.clear();
    this.answered += this.inflight;
    this.inflight = 0;
    for (const b of this.barriers.splice(0)) b.go();
    this.answered = 0;
    if (!this.closed) this.warnOnce(err);
    this.lost();
  }

  /** Either connection went away: the next time both are up, the ready callbacks run again. */
  private lost(): void {
    this.epoch++;
    this.synced = false;
  }

  private warnOnce(err: Error): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    if (this.quiet) return;
    const what = this.everReady ? 'Lost connection to' : 'Unable to connect to';
    this.log.warning(`Warning: ${what} Redis at ${this.label} (${err.message}); messages are still routed, reconnecting.`);
  }

  /** Once both connections are up: the ready callbacks, then the buffered writes. */
  private async maybeSync(): Promise<void> {
    if (this.closed || this.syncing || this.synced) return;
    if (!this.ready || (this.writer !== null && !this.writer.ready)) return;
    const again = this.everReady || this.warned;
    this.everReady = true;
    this.syncing = true;
    const epoch = this.epoch;
    for (const cb of this.readyCallbacks) {
      try {
        await cb();
      } catch {
        // A connection went down again mid-way; the next 'ready' runs the callbacks again.
      }
    }
    this.syncing = false;
    if (this.closed) return;
    if (epoch !== this.epoch) {
      void this.maybeSync();
      return;
    }
    this.synced = true;
    for (const w of this.syncedWaiters.splice(0)) w();
    if (again && this.warned && !this.quiet) {
      this.log.notice(
        `Connection to Redis at ${this.label} restored${this.dropped > 0 ? ` (${this.dropped} writes dropped while it was away)` : ''}.`,
      );
    }
    this.warned = false;
    this.flush();
  }

  /** Sends what is buffered (if Redis is up, waiting a second at most) and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + 1000;
    this.flush();
    while ((this.inflight > 0 || this.out.queued > 0) && this.synced && this.writer?.ready === true && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      this.flush();
    }
    this.closed = true;
    this.writer?.close();
    this.redis.disconnect();
  }
}
