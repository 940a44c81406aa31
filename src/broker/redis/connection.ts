/**
 * One Redis connection as the broker uses it: writes are buffered and sent as one batch
 * script call per event-loop turn (batch-script.ts), so that routing never waits on Redis
 * (issue 7, Speed); reads are only made off the message path and always with a timeout.
 *
 * Redis may be down at start or go away later. ioredis's own offline queue is disabled
 * (it would grow without bound); instead writes wait in a bounded buffer while the link
 * is down and anything beyond it is dropped and counted. One warning is logged per
 * outage, reconnection uses a capped backoff, and `onReady` callbacks run on every
 * (re)connection before the buffered writes go out, so that presence can be rewritten.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Log } from '../log.js';
import { BATCH_SCRIPT } from './batch-script.js';

/** A Redis command and its arguments, each argument one Redis argument (never a command line). */
export type RedisCommand = (string | Buffer | number)[];

export interface RedisLinkOptions {
  /** redis:// or rediss:// URL; when set it wins over host and port. */
  url: string | null;
  host: string;
  port: number;
  password: string | null;
  db: number;
  /** Writes kept while Redis is unreachable; beyond this they are dropped and counted. */
  maxBuffered?: number;
  /** Commands sent and not yet answered before new writes wait in the buffer. */
  maxInflight?: number;
  /** Longest wait between reconnection attempts, ms. */
  maxBackoffMs?: number;
  /** Client name for log lines; defaults to host:port (never the URL: it may hold a password). */
  label?: string;
  /** Log nothing about outages (a second connection to the same server: one warning is enough). */
  quiet?: boolean;
}

const DEFAULT_MAX_BUFFERED = 100_000;
const DEFAULT_MAX_INFLIGHT = 100_000;
/** Bounds of one batch script call: commands, and payload bytes. */
const BATCH_COMMANDS = 2000;
const BATCH_BYTES = 8 * 1024 * 1024;

type BatchRedis = Redis & { tsmBatch(...args: (string | Buffer | number)[]): Promise<unknown[]> };

/** Host and port of a Redis URL, for log lines that must not show its password. */
export function describeRedis(o: Pick<RedisLinkOptions, 'url' | 'host' | 'port'>): string {
  if (o.url !== null) {
    try {
      const u = new URL(o.url);
      return `${u.hostname}:${u.port === '' ? '6379' : u.port}`;
    } catch {
      return 'redis';
    }
  }
  return `${o.host}:${o.port}`;
}

export class RedisLink {
  readonly redis: Redis;
  readonly label: string;
  /** Writes dropped because the buffer was full while Redis was away. */
  dropped = 0;
  /** Commands Redis answered with an error (bad hook command, wrong type, ...). */
  errors = 0;
  private buffer: RedisCommand[] = [];
  private inflight = 0;
  private flushScheduled = false;
  /** True while onReady callbacks run: writes wait so that they land after the resync. */
  private syncing = false;
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

  constructor(options: RedisLinkOptions, log: Log) {
    this.log = log;
    this.label = options.label ?? describeRedis(options);
    this.quiet = options.quiet === true;
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    const maxBackoff = options.maxBackoffMs ?? 5000;
    const ro: RedisOptions = {
      lazyConnect: true,
      // Bounded by our own buffer instead (issue 7: nothing queues without bound).
      enableOfflineQueue: false,
      // Commands cut off by a lost connection fail at once rather than wait in ioredis.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxBackoff),
    };
    if (options.password !== null) ro.password = options.password;
    if (options.db !== 0) ro.db = options.db;
    this.redis = options.url !== null ? new Redis(options.url, ro) : new Redis({ ...ro, host: options.host, port: options.port });
    // EVALSHA, falling back to EVAL after a restart flushed the script cache.
    this.redis.defineCommand('tsmBatch', { numberOfKeys: 0, lua: BATCH_SCRIPT });
    this.redis.on('error', (err: Error) => this.warnOnce(err));
    this.redis.on('ready', () => void this.becameReady());
    this.redis.on('close', () => {
      if (this.everReady && !this.closed) this.warnOnce(new Error('connection lost'));
    });
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
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
    });
  }

  /** Queues a write for this turn's batch. Never blocks, never throws. */
  send(cmd: RedisCommand): void {
    const buf = this.buffer;
    if (buf.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    buf.push(cmd);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** A read off the message path: rejects when Redis is down or slower than `timeoutMs`. */
  read<T>(fn: (r: Redis) => Promise<T>, timeoutMs: number): Promise<T> {
    if (!this.ready) return Promise.reject(new Error('Redis unavailable'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis timeout')), timeoutMs);
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
    });
  }

  /** Sends buffered writes as one batch when Redis is ready and has room. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.syncing || !this.ready || this.buffer.length === 0) return;
    const room = this.maxInflight - this.inflight;
    if (room <= 0) return;
    const batch = this.buffer.length <= room ? this.buffer : this.buffer.splice(0, room);
    if (batch === this.buffer) this.buffer = [];
    this.exec(batch);
  }

  /** Sends commands as batch script calls (batch-script.ts), in order. */
  private exec(batch: RedisCommand[]): Promise<void[]> {
    const calls: Promise<void>[] = [];
    let args: (string | Buffer | number)[] = [];
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) {
      const c = batch[i];
      args.push(c.length - 1);
      for (let j = 0; j < c.length; j++) {
        const a = c[j];
        args.push(a);
        if (typeof a !== 'number') bytes += a.length;
      }
      if (++count >= BATCH_COMMANDS || bytes >= BATCH_BYTES) {
        calls.push(this.call(args, count));
        args = [];
        count = 0;
        bytes = 0;
      }
    }
    if (count > 0) calls.push(this.call(args, count));
    return Promise.all(calls);
  }

  private call(args: (string | Buffer | number)[], count: number): Promise<void> {
    this.inflight += count;
    return (this.redis as BatchRedis).tsmBatch(...args).then(
      (reply) => {
        this.inflight -= count;
        const nerr = Number(reply[0]);
        if (nerr > 0) {
          this.errors += nerr;
          for (let i = 1; i < reply.length; i++) this.commandError(String(reply[i]));
        }
        if (this.buffer.length > 0) this.flush();
      },
      (err: Error) => {
        this.inflight -= count;
        // The whole batch failed (connection lost, or Redis refused the script itself).
        if (this.ready) {
          this.errors += count;
          this.commandError(err.message);
        }
      },
    );
  }

  private commandError(message: string): void {
    // A bad hook command fails on every message: say so once per distinct error.
    if (this.seenErrors.has(message) || this.seenErrors.size >= 100) return;
    this.seenErrors.add(message);
    this.log.warning(`Warning: Redis ${this.label} refused a command: ${message}`);
  }

  private warnOnce(err: Error): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    if (this.quiet) return;
    const what = this.everReady ? 'Lost connection to' : 'Unable to connect to';
    this.log.warning(`Warning: ${what} Redis at ${this.label} (${err.message}); messages are still routed, reconnecting.`);
  }

  private async becameReady(): Promise<void> {
    if (this.closed) return;
    const again = this.everReady || this.warned;
    this.everReady = true;
    this.syncing = true;
    for (const cb of this.readyCallbacks) {
      try {
        await cb();
      } catch {
        // The link went down again mid-way; the next 'ready' runs the callbacks again.
      }
    }
    this.syncing = false;
    for (const w of this.syncedWaiters.splice(0)) w();
    if (again && this.warned && !this.quiet) {
      this.log.notice(
        `Connection to Redis at ${this.label} restored${this.dropped > 0 ? ` (${this.dropped} writes dropped while it was away)` : ''}.`,
      );
    }
    this.warned = false;
    this.flush();
  }

  /** Sends what is buffered (if Redis is up, waiting a second at most) and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.ready && !this.syncing && this.buffer.length > 0) {
      const batch = this.buffer;
      this.buffer = [];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exec(batch), new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.redis.disconnect();
  }
}
