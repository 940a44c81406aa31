/**
 * Redis commands encoded as RESP straight into one growing Buffer (issue 7, Speed): the
 * write path of the Redis integration sends a turn's commands as the bytes Redis reads,
 * with no command objects, promises or argument arrays per message. Constant parts of a
 * command (`*3\r\n$5\r\nRPUSH\r\n`, literal arguments) are encoded once by whoever sends
 * them (see `encodeHead` / `encodeBulk`) and copied in; only variable arguments are encoded
 * per command, each as one bulk string: `$<byte length>\r\n<bytes>\r\n`. A bulk string is
 * length-prefixed, so whatever an argument holds (spaces, \r\n, RESP, binary) it stays
 * one argument.
 *
 * Commands are appended between `begin()` and `end()`; `seal()` (once per turn) turns the
 * complete commands into chunks, each a view of the buffer with its command count, so
 * that the sender can keep a bound on commands in flight. The free rest of the buffer is
 * used by the next turn: a sealed view is never written to again.
 */

const CHUNK = 1024 * 1024;

/** `*<n>\r\n` followed by the bulk strings of `parts`: the constant head of a command. */
export function encodeHead(argc: number, ...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(`*${argc}\r\n`), ...parts.map(encodeBulk)]);
}

/** One bulk string: `$<length>\r\n<bytes>\r\n`. */
export function encodeBulk(v: string | Buffer): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, CRLF_BUF]);
}

const CRLF_BUF = Buffer.from('\r\n');

/** The commands of a RESP buffer as written by RespQueue: name and arguments of each. */
export function readCommands(b: Buffer): [string, Buffer[]][] {
  const out: [string, Buffer[]][] = [];
  let p = 0;
  const num = (): number => {
    const e = b.indexOf(13, p);
    const v = Number(b.toString('latin1', p + 1, e));
    p = e + 2;
    return v;
  };
  while (p < b.length) {
    const argc = num();
    const args: Buffer[] = [];
    for (let j = 0; j < argc; j++) {
      const len = num();
      args.push(b.subarray(p, p + len));
      p += len + 2;
    }
    if (args.length > 0) out.push([args[0].toString(), args.slice(1)]);
  }
  return out;
}

export class RespQueue {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  /** Start of the bytes not yet sealed. */
  private start = 0;
  private off = 0;
  /** Start of the command being appended. */
  private cmdStart = 0;
  /** Complete commands in [start, cmdStart). */
  private open = 0;
  /** Sealed chunks, oldest first, from `head` on: views of `bufs[i]` from `starts[i]` to `ends[i]`. */
  private bufs: Buffer[] = [];
  private starts: number[] = [];
  private ends: number[] = [];
  private counts: number[] = [];
  private head = 0;
  /** Complete commands held (sealed or not). */
  queued = 0;

  begin(): void {
    this.cmdStart = this.off;
  }

  end(): void {
    this.cmdStart = this.off;
    this.open++;
    this.queued++;
  }

  /** Bytes encoded once (a command head, a literal argument). */
  raw(b: Buffer): void {
    const n = b.length;
    if (this.off + n > this.buf.length) this.grow(n);
    this.buf.set(b, this.off);
    this.off += n;
  }

  /** A string argument as one bulk string (UTF-8). */
  str(s: string): void {
    const len = s.length;
    if (len <= 64) {
      // Short ASCII strings (topics, client ids, numbers) copied by hand: cheaper than
      // two calls into C++ for the byte length and the encoding.
      let ascii = true;
      for (let i = 0; i < len; i++) {
        if (s.charCodeAt(i) > 127) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        if (this.off + len + 16 > this.buf.length) this.grow(len + 16);
        this.header(len);
        const b = this.buf;
        const o = this.off;
        for (let i = 0; i < len; i++) b[o + i] = s.charCodeAt(i);
        this.off = o + len;
        this.crlf();
        return;
      }
    }
    const n = Buffer.byteLength(s);
    if (this.off + n + 16 > this.buf.length) this.grow(n + 16);
    this.header(n);
    if (n > 0) this.off += this.buf.write(s, this.off, n, 'utf8');
    this.crlf();
  }

  /** A binary argument as one bulk string. */
  bytes(b: Buffer): void {
    const n = b.length;
    if (this.off + n + 16 > this.buf.length) this.grow(n + 16);
    this.header(n);
    this.buf.set(b, this.off);
    this.off += n;
    this.crlf();
  }

  /** An integer argument (as Redis reads it: decimal text). */
  int(v: number): void {
    this.str(String(v));
  }

  /** A whole command given as its arguments (the caller begins and ends it). */
  command(args: readonly (string | Buffer | number)[]): void {
    this.raw(arrayHeader(args.length));
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (typeof a === 'string') this.str(a);
      else if (typeof a === 'number') this.int(a);
      else this.bytes(a);
    }
  }

  /**
   * Makes the complete commands appended so far into a chunk. Call between commands.
   * Commands that follow an unsent chunk in the same buffer extend that chunk, so that
   * what piles up while a write is under way goes out as one write.
   */
  seal(): void {
    if (this.open === 0) return;
    const last = this.bufs.length - 1;
    if (last >= this.head && this.bufs[last] === this.buf && this.ends[last] === this.start) {
      this.ends[last] = this.cmdStart;
      this.counts[last] += this.open;
    } else {
      this.bufs.push(this.buf);
      this.starts.push(this.start);
      this.ends.push(this.cmdStart);
      this.counts.push(this.open);
    }
    this.start = this.cmdStart;
    this.open = 0;
  }

  /** True while a sealed chunk waits. */
  get ready(): boolean {
    return this.head < this.bufs.length;
  }

  /** Commands in the oldest sealed chunk. */
  nextCount(): number {
    return this.counts[this.head];
  }

  /** Takes the oldest sealed chunk. */
  shift(): Buffer {
    const h = this.head;
    const b = this.bufs[h].subarray(this.starts[h], this.ends[h]);
    this.queued -= this.counts[h];
    this.head++;
    if (this.head === this.bufs.length) {
      this.bufs = [];
      this.starts = [];
      this.ends = [];
      this.counts = [];
      this.head = 0;
    }
    return b;
  }

  /** `$<n>\r\n`; the caller made room. */
  private header(n: number): void {
    const b = this.buf;
    let o = this.off;
    b[o++] = 36; // $
    if (n < 10) b[o++] = 48 + n;
    else if (n < 100) {
      b[o++] = 48 + ((n / 10) | 0);
      b[o++] = 48 + (n % 10);
    } else if (n < 1000) {
      b[o++] = 48 + ((n / 100) | 0);
      b[o++] = 48 + (((n / 10) | 0) % 10);
      b[o++] = 48 + (n % 10);
    } else o += b.write(String(n), o, 'latin1');
    b[o++] = 13;
    b[o++] = 10;
    this.off = o;
  }

  private crlf(): void {
    this.buf[this.off++] = 13;
    this.buf[this.off++] = 10;
  }

  /**
   * Moves on to a new buffer with room for `need` more bytes: complete commands not yet
   * sealed become a chunk of the old one, the command being appended is copied over.
   */
  private grow(need: number): void {
    this.seal();
    const partial = this.off - this.cmdStart;
    const next = Buffer.allocUnsafe(Math.max(CHUNK, partial + need + CHUNK / 4));
    this.buf.copy(next, 0, this.cmdStart, this.off);
    this.buf = next;
    this.start = 0;
    this.cmdStart = 0;
    this.off = partial;
  }
}

const arrayHeaders: Buffer[] = [];

/** `*<n>\r\n`, made once per n. */
function arrayHeader(n: number): Buffer {
  return (arrayHeaders[n] ??= Buffer.from(`*${n}\r\n`));
}
