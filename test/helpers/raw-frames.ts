/**
 * The raw bytes of every MQTT packet a RawClient receives, split by their fixed header,
 * for tests that compare what went on the wire byte for byte (mqtt-packet's parser groups
 * user properties by name, so its packets cannot show their order).
 */
import { readVarint } from '../../src/protocol/properties.js';
import type { RawClient } from './raw-client.js';

/** The whole MQTT packets at the start of `buf` (split by their fixed header), and what follows them. */
export function splitFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let p = 0;
  for (;;) {
    let header: [number, number];
    try {
      // The remaining length after the first byte; incomplete (or over four bytes): stop.
      header = readVarint(buf, p + 1, buf.length);
    } catch {
      break;
    }
    const [rl, i] = header;
    if (buf.length < i + rl) break;
    frames.push(buf.subarray(p, i + rl));
    p = i + rl;
  }
  return { frames, rest: buf.subarray(p) };
}

export class RawFrames {
  readonly frames: Buffer[] = [];
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  constructor(client: RawClient) {
    client.socket.on('data', (chunk: Buffer) => this.push(chunk));
  }

  private push(chunk: Buffer): void {
    const buf = Buffer.concat([this.pending, chunk]);
    const { frames, rest } = splitFrames(buf);
    this.frames.push(...frames);
    this.pending = rest;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits for the first frame whose first byte's type nibble is `type` (3 = PUBLISH) and takes it. */
  next(type: number, timeoutMs = 3000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame of type ${type}`)), timeoutMs);
      const check = (): void => {
        const i = this.frames.findIndex((f) => f[0] >> 4 === type);
        if (i !== -1) {
          clearTimeout(timer);
          resolve(this.frames.splice(i, 1)[0]);
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

export function mqttString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u16(b.length), b]);
}

export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** One property from its identifier and already-encoded value. */
export function prop(id: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([id]), value]);
}

export function userProp(name: string, value: string): Buffer {
  return prop(0x26, Buffer.concat([mqttString(name), mqttString(value)]));
}

/** An MQTT 5 PUBLISH with the given property bytes, built by hand. */
export function publishV5(topic: string, payload: string, props: Buffer, opts: { qos?: number; mid?: number; retain?: boolean } = {}): Buffer {
  const qos = opts.qos ?? 0;
  const body = Buffer.concat([
    mqttString(topic),
    qos > 0 ? u16(opts.mid ?? 1) : Buffer.alloc(0),
    varint(props.length),
    props,
    Buffer.from(payload),
  ]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1) | (opts.retain ? 1 : 0)]), varint(body.length), body]);
}

/** The property bytes of an MQTT 5 PUBLISH frame. */
export function publishPropertyBytes(frame: Buffer): Buffer {
  let i = 1;
  while (frame[i] & 0x80) i++;
  i++;
  const qos = (frame[0] >> 1) & 3;
  i += 2 + frame.readUInt16BE(i) + (qos > 0 ? 2 : 0);
  let len = 0;
  let mul = 1;
  for (;;) {
    const b = frame[i++];
    len += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) break;
  }
  return frame.subarray(i, i + len);
}
