/**
 * The Redis integration's write connection (issue 7, Speed): a plain TCP or TLS socket
 * that RedisLink writes pipelined RESP commands to (resp-queue.ts) and that only counts
 * the replies, handing error replies on with their position. Reads, pub/sub and
 * everything else stay on ioredis; this connection carries the writes, which are most of
 * what the broker sends and the only part on the message path.
 *
 * On connecting it sends AUTH (when there is a password), SELECT (db other than 0) and
 * PING, and is ready once all three answered without an error; an error there (a wrong
 * password, NOAUTH, LOADING) closes the connection and it is tried again later, like a
 * refused connection. It reconnects with a capped backoff until closed.
 */
import net from 'node:net';
import tls from 'node:tls';
import { encodeHead } from './resp-queue.js';

export interface RespSocketOptions {
  host: string;
  port: number;
  /** TLS options (rediss://), or null for plain TCP. */
  tls: tls.ConnectionOptions | null;
  username: string | null;
  password: string | null;
  db: number;
  connectTimeoutMs: number;
  maxBackoffMs: number;
}

export interface RespSocketHandler {
  /** Connected and the handshake answered. */
  ready(): void;
  /** The connection failed or was lost; commands written and not answered are gone. */
  down(err: Error): void;
  /** The reply at `index` (0-based, counted from the previous `replies` call) is an error. */
  replyError(index: number, message: string): void;
  /** `n` more replies arrived, in order. */
  replies(n: number): void;
  /** The last write reached the kernel: the next may go. */
  drained(): void;
}

/** Parses the options of a redis:// or rediss:// URL as ioredis does (host, port, user, password, db). */
export function parseRedisUrl(url: string): { host: string; port: number; tls: boolean; username: string | null; password: string | null; db: number } {
  const u = new URL(url);
  const db = Number(u.pathname.replace(/^\//, '') || u.searchParams.get('db') || 0);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    tls: u.protocol === 'rediss:',
    username: u.username === '' ? null : decodeURIComponent(u.username),
    password: u.password === '' ? null : decodeURIComponent(u.password),
    db: Number.isFinite(db) ? db : 0,
  };
}

export class RespSocket {
  private socket: net.Socket | null = null;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Handshake replies still awaited; 0 once ready. */
  private handshake = 0;
  private isReady = false;
  private writing = false;
  private readonly written = (): void => {
    this.writing = false;
    this.handler.drained();
  };
  /** Bytes of a reply cut by the end of a chunk. */
  private rest: Buffer | null = null;

  constructor(
    private readonly o: RespSocketOptions,
    private readonly handler: RespSocketHandler,
  ) {}

  get ready(): boolean {
    return this.isReady;
  }

  connect(): void {
    if (this.closed || this.socket !== null) return;
    const o = this.o;
    const s = o.tls !== null ? tls.connect({ ...o.tls, host: o.host, port: o.port, servername: net.isIP(o.host) === 0 ? o.host : undefined }) : net.connect({ host: o.host, port: o.port });
    this.socket = s;
    this.rest = null;
    let failed: Error | null = null;
    const timer = setTimeout(() => s.destroy(new Error('connect ETIMEDOUT')), o.connectTimeoutMs);
    timer.unref();
    s.setNoDelay(true);
    s.setKeepAlive(true, 30_000);
    s.once(o.tls !== null ? 'secureConnect' : 'connect', () => {
      const hs: Buffer[] = [];
      if (o.password !== null) hs.push(o.username !== null ? encodeHead(3, 'AUTH', o.username, o.password) : encodeHead(2, 'AUTH', o.password));
      if (o.db !== 0) hs.push(encodeHead(2, 'SELECT', String(o.db)));
      hs.push(encodeHead(1, 'PING'));
      this.handshake = hs.length;
      s.write(Buffer.concat(hs));
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err: Error) => {
      failed ??= err;
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (this.socket !== s) return;
      this.socket = null;
      this.isReady = false;
      this.writing = false;
      this.handshake = 0;
      this.handler.down(failed ?? new Error('connection lost'));
      this.scheduleReconnect();
    });
    this.failWith = (err: Error) => {
      failed = err;
      clearTimeout(timer);
      s.destroy();
    };
    this.onHandshakeDone = () => clearTimeout(timer);
  }

  private failWith: (err: Error) => void = () => undefined;
  private onHandshakeDone: () => void = () => undefined;

  /** True while a write has not yet reached the kernel: the next one waits (see write()). */
  get busy(): boolean {
    return this.writing;
  }

  /**
   * Writes commands; false if not connected (the caller holds them until `ready`). One
   * write (or several, the last with `last`) at a time: the caller keeps appending to its
   * buffer meanwhile, and `handler.drained()` tells it when to write again, so that what
   * piles up while Redis is slow goes out as one larger write, not as many small ones
   * that the stream would gather into a costly writev.
   */
  write(b: Buffer, last = true): boolean {
    if (!this.isReady || this.socket === null) return false;
    this.writing = true;
    if (last) this.socket.write(b, this.written);
    else this.socket.write(b);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const s = this.socket;
    this.socket = null;
    this.isReady = false;
    s?.destroy();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = Math.min(50 * 2 ** Math.min(++this.retries, 10), this.o.maxBackoffMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let pos = 0;
    let n = 0;
    const len = buf.length;
    while (pos < len) {
      const t = buf[pos];
      let end: number;
      if (t === 58 || t === 43) {
        // :integer, +simple string: the common replies of writes, skipped in place.
        end = lineEnd(buf, pos + 1);
        if (end < 0) break;
        end += 2;
      } else {
        end = skipReply(buf, pos);
        if (end < 0) break;
      }
      if (this.handshake > 0) {
        if (t === 45) {
          this.failWith(new Error(buf.toString('utf8', pos + 1, lineEnd(buf, pos + 1))));
          return;
        }
        if (--this.handshake === 0) {
          this.isReady = true;
          this.retries = 0;
          this.onHandshakeDone();
          this.handler.ready();
          if (this.socket === null) return;
        }
      } else {
        if (t === 45) this.handler.replyError(n, buf.toString('utf8', pos + 1, lineEnd(buf, pos + 1)));
        n++;
      }
      pos = end;
    }
    if (pos < len) this.rest = buf.subarray(pos);
    if (n > 0) this.handler.replies(n);
  }
}

/** Index of the \r ending the line that starts at `from`, or -1 if the chunk ends first. */
function lineEnd(b: Buffer, from: number): number {
  for (let i = from; i < b.length - 1; i++) if (b[i] === 13) return i;
  return -1;
}

/** End of the reply starting at `pos` (RESP2, arrays nested), or -1 if the chunk ends first. */
function skipReply(b: Buffer, pos: number): number {
  const t = b[pos];
  const e = lineEnd(b, pos + 1);
  if (e < 0) return -1;
  if (t === 36) {
    // $<len>\r\n<bytes>\r\n, $-1\r\n
    const len = Number(b.toString('latin1', pos + 1, e));
    if (len < 0) return e + 2;
    const end = e + 2 + len + 2;
    return end <= b.length ? end : -1;
  }
  if (t === 42) {
    // *<count>\r\n<replies>, *-1\r\n
    const count = Number(b.toString('latin1', pos + 1, e));
    let p = e + 2;
    for (let i = 0; i < count; i++) {
      p = skipReply(b, p);
      if (p < 0) return -1;
    }
    return p;
  }
  // +simple, -error, :integer (and any other one-line type)
  return e + 2;
}
