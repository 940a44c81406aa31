/**
 * The bytes of a cluster stream entry (issue 15, stream.ts): field `b` holds its messages
 * one after the other (encodeMessage); entries of named fields (m t p q f u e x g, one
 * message each, as written before batching) are still read.
 */
import { Message } from '../message.js';
import { fromShared, toShared } from './clock.js';

const EMPTY = Buffer.alloc(0);
/** d deliver, r store as retained, dr both, dl deliver with the retain flag set, not stored. */
const MODES = ['d', 'r', 'dr', 'dl'] as const;

export type Mode = (typeof MODES)[number];

/** An entry being written: its bytes so far. */
export interface EntryBuffer {
  buf: Buffer;
  len: number;
  count: number;
  /** Makes room for `n` more bytes. */
  room(n: number): void;
}

/**
 * One message of an entry: mode (0 d, 1 r, 2 dr, 3 dl), QoS, expiry (unix ms on Redis's clock, 0 none, a double),
 * then topic, payload, publisher, its username, MQTT 5 property bytes and the shared
 * groups this node serves ("group\nfilter" keys, '\t' between), each a 32-bit length
 * and its bytes.
 */
export function encodeMessage(b: EntryBuffer, msg: Message, mode: Mode, groups: string | undefined): void {
  const from = msg.from ?? '';
  const user = msg.fromUsername ?? '';
  const props = msg.storedProperties();
  const g = groups ?? '';
  const tl = Buffer.byteLength(msg.topic);
  const fl = Buffer.byteLength(from);
  const ul = Buffer.byteLength(user);
  const gl = Buffer.byteLength(g);
  b.room(10 + 24 + tl + msg.payload.length + fl + ul + props.length + gl);
  const buf = b.buf;
  let o = b.len;
  buf[o++] = mode === 'd' ? 0 : mode === 'r' ? 1 : mode === 'dr' ? 2 : 3;
  buf[o++] = msg.qos;
  o = buf.writeDoubleLE(toShared(msg.expiresAt), o);
  o = buf.writeUInt32LE(tl, o);
  o += buf.write(msg.topic, o);
  o = buf.writeUInt32LE(msg.payload.length, o);
  o += msg.payload.copy(buf, o);
  o = buf.writeUInt32LE(fl, o);
  if (fl > 0) o += buf.write(from, o);
  o = buf.writeUInt32LE(ul, o);
  if (ul > 0) o += buf.write(user, o);
  o = buf.writeUInt32LE(props.length, o);
  o += props.copy(buf, o);
  o = buf.writeUInt32LE(gl, o);
  if (gl > 0) o += buf.write(g, o);
  b.len = o;
  b.count++;
}

export interface Entry {
  mode: Mode;
  msg: Message;
  /** Shared groups this node delivers the message to ("group\nfilter" keys, '\t' between). */
  groups: string | undefined;
}

/**
 * Decodes a stream entry's field list, handing each message to `each`: a batch (field
 * `b`), or a single message in named fields (m t p q f u e x g, as entries were written
 * before batching). Anything that is not ours is skipped.
 */
export function decodeEntry(fields: Buffer[], each: (e: Entry) => void): void {
  if (fields.length === 2 && fields[0].length === 1 && fields[0][0] === 0x62 /* b */) {
    decodeBatch(fields[1], each);
    return;
  }
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i].toString(), fields[i + 1]);
  const t = f.get('t')?.toString();
  const mode = f.get('m')?.toString() as Mode | undefined;
  if (t === undefined || mode === undefined || !MODES.includes(mode)) return;
  const q = Number(f.get('q')?.toString());
  const qos = q === 1 || q === 2 ? q : 0;
  const from = f.get('f')?.toString() || undefined;
  const user = f.get('u')?.toString() || undefined;
  const msg = new Message(t, f.get('p') ?? EMPTY, qos, mode === 'r' || mode === 'dr', undefined, from, user);
  const x = f.get('x');
  if (x !== undefined && x.length > 0) msg.setStoredProperties(x);
  const e = Number(f.get('e')?.toString() ?? 0);
  if (e > 0) msg.expiresAt = fromShared(e);
  each({ mode, msg, groups: f.get('g')?.toString() });
}

function decodeBatch(buf: Buffer, each: (e: Entry) => void): void {
  let o = 0;
  const field = (): [number, number] => {
    const start = o + 4;
    if (start > buf.length) return [0, -1];
    o = start + buf.readUInt32LE(o);
    return o > buf.length ? [0, -1] : [start, o];
  };
  while (o + 10 <= buf.length) {
    const mode = MODES[buf[o]];
    const q = buf[o + 1];
    const expiresAt = buf.readDoubleLE(o + 2);
    o += 10;
    const [ts, te] = field();
    const [ps, pe] = field();
    const [fs, fe] = field();
    const [us, ue] = field();
    const [xs, xe] = field();
    const [gs, ge] = field();
    // A truncated entry (not ours): what was read before stands.
    if (te < 0 || pe < 0 || fe < 0 || ue < 0 || xe < 0 || ge < 0) return;
    if (mode === undefined) continue;
    const qos = q === 1 || q === 2 ? q : 0;
    // The payload is copied: a message queued for a session must not keep the whole entry alive.
    const payload = pe > ps ? Buffer.from(buf.subarray(ps, pe)) : EMPTY;
    const msg = new Message(
      buf.toString('utf8', ts, te), payload, qos, mode !== 'd', undefined,
      fe > fs ? buf.toString('utf8', fs, fe) : undefined, ue > us ? buf.toString('utf8', us, ue) : undefined,
    );
    if (xe > xs) msg.setStoredProperties(Buffer.from(buf.subarray(xs, xe)));
    if (expiresAt > 0) msg.expiresAt = fromShared(expiresAt);
    each({ mode, msg, groups: ge > gs ? buf.toString('utf8', gs, ge) : undefined });
  }
}
