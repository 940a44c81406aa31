/**
 * libFuzzer-style mutations of byte strings, with a dictionary of MQTT tokens: bit flips,
 * random and interesting bytes, inserts, deletes, copies within the input, crossover with
 * another corpus entry, and MQTT-aware ones (a remaining length or string length bent,
 * a property identifier, a whole frame from another input).
 */
const DICTIONARY: Buffer[] = [
  'MQTT', 'MQIsdp', '$share/', '$SYS/', '#', '+', '/', '/#', '+/+', '$', 'a/b', '\u0000', '\uffff',
].map((s) => Buffer.from(s, 'utf8'));
// Varints at their boundaries, and every MQTT 5 property identifier.
for (const v of [[0x7f], [0x80, 0x01], [0xff, 0x7f], [0x80, 0x80, 0x01], [0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff]]) {
  DICTIONARY.push(Buffer.from(v));
}
for (const id of [1, 2, 3, 8, 9, 11, 17, 18, 19, 21, 22, 23, 24, 25, 26, 28, 31, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42]) {
  DICTIONARY.push(Buffer.from([id]));
}
const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];

export const MAX_INPUT = 4096;

export class Mutator {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** xorshift32: fast, and reproducible from the seed. */
  rand(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }

  mutate(input: Buffer, other: Buffer): Buffer {
    let b: Buffer = Buffer.from(input);
    const n = 1 + this.rand(4);
    for (let i = 0; i < n; i++) b = this.once(b, other);
    return b.length > MAX_INPUT ? b.subarray(0, MAX_INPUT) : b;
  }

  private once(b: Buffer, other: Buffer): Buffer {
    const len = b.length;
    const at = len > 0 ? this.rand(len) : 0;
    switch (this.rand(12)) {
      case 0: // flip a bit
        if (len > 0) b[at] ^= 1 << this.rand(8);
        return b;
      case 1: // a random byte
        if (len > 0) b[at] = this.rand(256);
        return b;
      case 2: // an interesting byte
        if (len > 0) b[at] = INTERESTING[this.rand(INTERESTING.length)];
        return b;
      case 3: // insert random bytes
        return Buffer.concat([b.subarray(0, at), randomBytes(this, 1 + this.rand(8)), b.subarray(at)]);
      case 4: { // delete a range
        const n = 1 + this.rand(Math.min(16, Math.max(1, len - at)));
        return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
      }
      case 5: { // copy a range elsewhere
        if (len < 2) return b;
        const from = this.rand(len);
        const n = 1 + this.rand(Math.min(32, len - from));
        return Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
      }
      case 6: // a dictionary token, inserted or written over
        return this.token(b, at);
      case 7: { // crossover: our head, the other's tail
        const cut = other.length > 0 ? this.rand(other.length) : 0;
        return Buffer.concat([b.subarray(0, at), other.subarray(cut)]);
      }
      case 8: { // append a whole frame of the other input
        const frame = frameAt(other, this.rand(Math.max(1, other.length)));
        return frame === undefined ? b : Buffer.concat([b, frame]);
      }
      case 9: // bend a length: a byte near the start of a frame, small or large
        if (len > 1) b[at] = this.rand(2) === 0 ? this.rand(8) : 0xff - this.rand(8);
        return b;
      case 10: { // a 16-bit big-endian length or id at a boundary
        if (len < 2) return b;
        const v = [0, 1, 0x7fff, 0x8000, 0xffff, len, len + 1][this.rand(7)] & 0xffff;
        const p = this.rand(len - 1);
        b[p] = v >> 8;
        b[p + 1] = v & 0xff;
        return b;
      }
      default: { // repeat the last frame-sized tail: many packets in one chunk
        const n = Math.min(len, 1 + this.rand(64));
        return Buffer.concat([b, b.subarray(len - n)]);
      }
    }
  }

  private token(b: Buffer, at: number): Buffer {
    const t = DICTIONARY[this.rand(DICTIONARY.length)];
    if (this.rand(2) === 0) return Buffer.concat([b.subarray(0, at), t, b.subarray(at)]);
    const out = Buffer.from(b);
    t.copy(out, at, 0, Math.min(t.length, out.length - at));
    return out;
  }
}

function randomBytes(m: Mutator, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = m.rand(256);
  return out;
}

/** The MQTT frame that contains byte `pos` of a well-framed input, walking from the start. */
function frameAt(buf: Buffer, pos: number): Buffer | undefined {
  let p = 0;
  while (p < buf.length) {
    let i = p + 1;
    let rl = 0;
    let mul = 1;
    for (let n = 0; n < 4 && i < buf.length; n++) {
      const c = buf[i++];
      rl += (c & 0x7f) * mul;
      mul *= 128;
      if ((c & 0x80) === 0) break;
    }
    const end = i + rl;
    if (end > buf.length) return undefined;
    if (pos < end) return buf.subarray(p, end);
    p = end;
  }
  return undefined;
}
