/**
 * The on-disk framing shared by the snapshot and the journal. A file is a series of frames,
 * one per write (a journal frame is one event-loop turn's records):
 *   frame:  u32 LE length of the records | u32 LE CRC-32 of the records | records
 *   record: u32 LE body length | body (u8 type, then fields)
 * A reader keeps every whole frame and stops at a torn one (the process died while writing
 * it: its acknowledgements never left) or a damaged one (bad checksum). One checksum per
 * write rather than per record keeps the message path cheap.
 */
import { crc32 } from './crc32.js';

export const FRAME_HEADER = 8;
const RECORD_HEADER = 4;
const UNDEFINED_STR = 0xffffffff;
/** A writer that grew past this (one huge payload) gives the memory back after a flush. */
const KEEP_BYTES = 4 * 1024 * 1024;

/** Scratch for f64: the bytes of a double in this machine's order, copied out little-endian. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function putU32(b: Buffer, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Builds one frame of records in a growing buffer; the caller writes `data()` out and `reset()`s. */
export class FrameWriter {
  private buf: Buffer;
  private len = FRAME_HEADER;
  private start = 0;
  private readonly initial: number;

  constructor(initial = 64 * 1024) {
    this.initial = initial;
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Bytes of records waiting (0 when there is nothing to write). */
  get length(): number {
    return this.len - FRAME_HEADER;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  begin(type: number): void {
    this.ensure(RECORD_HEADER + 1);
    this.start = this.len;
    this.len += RECORD_HEADER;
    this.buf[this.len++] = type;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  // The number writers store bytes directly: Buffer's writeUIntXX methods check their
  // arguments on every call, and the journal writes a few numbers per record on the
  // message path.
  u16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    const at = this.len;
    b[at] = v;
    b[at + 1] = v >>> 8;
    this.len = at + 2;
  }

  u32(v: number): void {
    this.ensure(4);
    putU32(this.buf, this.len, v);
    this.len += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    F64[0] = v;
    const b = this.buf;
    const at = this.len;
    const f = F64_BYTES;
    if (LITTLE_ENDIAN) {
      b[at] = f[0];
      b[at + 1] = f[1];
      b[at + 2] = f[2];
      b[at + 3] = f[3];
      b[at + 4] = f[4];
      b[at + 5] = f[5];
      b[at + 6] = f[6];
      b[at + 7] = f[7];
    } else {
      for (let i = 0; i < 8; i++) b[at + i] = f[7 - i];
    }
    this.len = at + 8;
  }

  str(s: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.len + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.len);
    this.len += 4 + n;
  }

  /** A string as `str` writes it, from its UTF-8 bytes (see Utf8Cache). */
  strBytes(b: Buffer): void {
    const n = b.length;
    this.ensure(4 + n);
    const buf = this.buf;
    let at = this.len;
    putU32(buf, at, n);
    at += 4;
    // Client ids and topics are short: a loop beats the call into Buffer.copy.
    if (n <= 64) for (let i = 0; i < n; i++) buf[at + i] = b[i];
    else b.copy(buf, at);
    this.len = at + n;
  }

  optStr(s: string | undefined): void {
    if (s === undefined) this.u32(UNDEFINED_STR);
    else this.str(s);
  }

  bytes(b: Uint8Array): void {
    this.ensure(4 + b.length);
    this.buf.writeUInt32LE(b.length, this.len);
    this.buf.set(b, this.len + 4);
    this.len += 4 + b.length;
  }

  end(): void {
    putU32(this.buf, this.start, this.len - this.start - RECORD_HEADER);
  }

  /** The finished frame (a view: valid until the next write), empty if there are no records. */
  data(): Buffer {
    const n = this.len - FRAME_HEADER;
    if (n === 0) return this.buf.subarray(0, 0);
    const records = this.buf.subarray(FRAME_HEADER, this.len);
    this.buf.writeUInt32LE(n, 0);
    this.buf.writeUInt32LE(crc32(records), 4);
    return this.buf.subarray(0, this.len);
  }

  reset(): void {
    this.len = FRAME_HEADER;
    this.start = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(this.initial);
  }
}

/**
 * UTF-8 bytes of the strings records repeat (client ids, topics): a message's records name
 * the same session and topic again and again, and encoding a string costs more than a
 * lookup. Bounded: past `max` entries the cache starts over.
 */
export class Utf8Cache {
  private map = new Map<string, Buffer>();
  constructor(private readonly max = 4096) {}

  get(s: string): Buffer {
    let b = this.map.get(s);
    if (b === undefined) {
      if (this.map.size >= this.max) this.map.clear();
      // Exact-size memory of its own: Buffer.from would cut it from Node's shared 8 KB pool,
      // and each cached name would keep a whole 8 KB slab alive (the soak's RSS grew by
      // ~1.8 MB a minute of new client ids, up to 4096 x 8 KB before the cache started over).
      b = Buffer.allocUnsafeSlow(Buffer.byteLength(s, 'utf8'));
      b.write(s, 'utf8');
      this.map.set(s, b);
    }
    return b;
  }
}

/** Reads the fields of one record body; throws RangeError past its end. */
export class BodyReader {
  private pos = 1;
  constructor(private readonly body: Buffer) {}

  get type(): number {
    return this.body[0];
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.body.length) throw new RangeError('record body too short');
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.body[this.need(1)];
  }

  u16(): number {
    return this.body.readUInt16LE(this.need(2));
  }

  u32(): number {
    return this.body.readUInt32LE(this.need(4));
  }

  f64(): number {
    return this.body.readDoubleLE(this.need(8));
  }

  str(): string {
    const n = this.u32();
    const at = this.need(n);
    return this.body.toString('utf8', at, at + n);
  }

  optStr(): string | undefined {
    const n = this.body.readUInt32LE(this.pos);
    if (n === UNDEFINED_STR) {
      this.need(4);
      return undefined;
    }
    return this.str();
  }

  /** A copy, so that the file's buffer can be released. */
  bytes(): Buffer {
    const n = this.u32();
    const at = this.need(n);
    return Buffer.from(this.body.subarray(at, at + n));
  }
}

export interface FrameScan {
  /** Record bodies in file order (views into the scanned buffer). */
  bodies: Buffer[];
  /** Bytes of whole, valid frames from the start. */
  validBytes: number;
  /** Why the scan stopped before the end: the last frame is cut short, or fails its checksum. */
  problem: 'torn' | 'checksum' | undefined;
}

/** Splits a file into record bodies, stopping at the first torn or damaged frame. */
export function scanFrames(data: Buffer): FrameScan {
  const bodies: Buffer[] = [];
  let pos = 0;
  let problem: FrameScan['problem'];
  while (pos < data.length) {
    if (data.length - pos < FRAME_HEADER) {
      problem = 'torn';
      break;
    }
    const len = data.readUInt32LE(pos);
    const crc = data.readUInt32LE(pos + 4);
    const start = pos + FRAME_HEADER;
    if (len === 0 || start + len > data.length) {
      // Either the writer died mid-frame or the length itself is damaged; both end the
      // readable part here. An all-zero tail (a file system that extended the file but not
      // its data) reads as length 0.
      problem = len === 0 ? 'checksum' : 'torn';
      break;
    }
    const frame = data.subarray(start, start + len);
    if (crc32(frame) !== crc) {
      problem = 'checksum';
      break;
    }
    const records = splitRecords(frame);
    if (records === undefined) {
      problem = 'checksum';
      break;
    }
    for (const r of records) bodies.push(r);
    pos = start + len;
  }
  return { bodies, validBytes: pos, problem };
}

/** The records of a frame that passed its checksum; undefined if their lengths do not add up. */
function splitRecords(frame: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < frame.length) {
    if (frame.length - pos < RECORD_HEADER) return undefined;
    const n = frame.readUInt32LE(pos);
    const start = pos + RECORD_HEADER;
    if (n === 0 || start + n > frame.length) return undefined;
    out.push(frame.subarray(start, start + n));
    pos = start + n;
  }
  return out;
}
