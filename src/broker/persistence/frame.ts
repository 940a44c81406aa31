/**
 * The on-disk framing shared by the snapshot and the journal: each record is
 *   u32 LE body length | u32 LE CRC-32 of the body | body (u8 type, then fields)
 * so that a reader can tell a whole record from a torn one (the process died while
 * writing it) or a damaged one (bad checksum), and stop there with everything before it.
 */
import { crc32 } from './crc32.js';

export const FRAME_HEADER = 8;
const UNDEFINED_STR = 0xffffffff;
/** A writer that grew past this (one huge payload) gives the memory back after a flush. */
const KEEP_BYTES = 4 * 1024 * 1024;

/** Builds records into one growing buffer; the caller writes `data()` out and `reset()`s. */
export class FrameWriter {
  private buf: Buffer;
  private len = 0;
  private start = 0;
  private readonly initial: number;

  constructor(initial = 64 * 1024) {
    this.initial = initial;
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
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
    this.ensure(FRAME_HEADER + 1);
    this.start = this.len;
    this.len += FRAME_HEADER;
    this.buf[this.len++] = type;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  str(s: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.len + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.len);
    this.len += 4 + n;
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
    const bodyStart = this.start + FRAME_HEADER;
    this.buf.writeUInt32LE(this.len - bodyStart, this.start);
    this.buf.writeUInt32LE(crc32(this.buf.subarray(bodyStart, this.len)), this.start + 4);
  }

  /** The finished records (a view: valid until the next write). */
  data(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  reset(): void {
    this.len = 0;
    this.start = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(this.initial);
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
  /** Bytes of whole, valid records from the start. */
  validBytes: number;
  /** Why the scan stopped before the end: the last record is cut short, or fails its checksum. */
  problem: 'torn' | 'checksum' | undefined;
}

/** Splits a file into record bodies, stopping at the first torn or damaged record. */
export function scanFrames(data: Buffer): FrameScan {
  const bodies: Buffer[] = [];
  let pos = 0;
  let problem: FrameScan['problem'];
  while (pos < data.length) {
    if (data.length - pos < FRAME_HEADER) {
      problem = 'torn';
      break;
    }
    const bodyLen = data.readUInt32LE(pos);
    const crc = data.readUInt32LE(pos + 4);
    const bodyStart = pos + FRAME_HEADER;
    if (bodyLen === 0 || bodyStart + bodyLen > data.length) {
      // Either the writer died mid-record or the length itself is damaged; both end the
      // readable part here. An all-zero tail (a file system that extended the file but not
      // its data) reads as bodyLen 0.
      problem = bodyLen === 0 ? 'checksum' : 'torn';
      break;
    }
    const body = data.subarray(bodyStart, bodyStart + bodyLen);
    if (crc32(body) !== crc) {
      problem = 'checksum';
      break;
    }
    bodies.push(body);
    pos = bodyStart + bodyLen;
  }
  return { bodies, validBytes: pos, problem };
}
