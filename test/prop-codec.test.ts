/**
 * Property-based (fast-check): the codec, for every packet type and MQTT 3.1, 3.1.1 and 5.
 * - encode then decode is identity: encodePacket's bytes, read back by the frame reader
 *   (protocol/frame-reader.ts: the hand-written decoders and the mqtt-packet fallback),
 *   give the packet that was encoded;
 * - the hand-written fast decoders (protocol/fast-decode.ts: PUBLISH 3.1/3.1.1/5, the
 *   acknowledgements, PINGREQ/PINGRESP, CONNACK) agree with mqtt-packet's parser on every
 *   generated packet, and on the same bytes cut into random chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/protocol/frame-reader.js';
import { createParser, encodePacket, userPropertyList, userPropertyObject, type Packet, type ProtocolVersion } from '../src/protocol/index.js';

class Reader extends FrameReader {
  error: Error | undefined;
  constructor(version: ProtocolVersion, out: Packet[]) {
    super({ onPacket: (p) => out.push(p) });
    this.version = version;
  }
  protected override protocolError(err: Error): void {
    this.error ??= err;
    this.closed = true;
  }
  feed(chunk: Buffer): void {
    this.readChunk(chunk);
  }
}

function ours(bytes: Buffer, version: ProtocolVersion, cuts: number[] = []): Packet[] {
  const out: Packet[] = [];
  const r = new Reader(version, out);
  let at = 0;
  for (const c of [...cuts.map((x) => x % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
    if (c < at) continue;
    r.feed(bytes.subarray(at, c));
    at = c;
  }
  if (r.error !== undefined) throw r.error;
  return out;
}

function theirs(bytes: Buffer, version: ProtocolVersion): Packet[] {
  const out: Packet[] = [];
  const parser = createParser(version);
  parser.on('packet', (p) => out.push(p));
  parser.on('error', (e) => {
    throw e;
  });
  parser.parse(bytes);
  return out;
}

/** A comparable form: no bookkeeping fields, Buffers as hex, user properties grouped by name. */
function norm(v: unknown, key = ''): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) {
    if (key === 'userProperties') {
      // mqtt-packet's parser groups user properties by name (a pair that repeats an earlier
      // one exactly is kept, as a repeated value): compared as mqtt-packet can tell them.
      return norm(userPropertyObject(v as [string, string][]));
    }
    return v.map((x) => norm(x));
  }
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || x === null || k === 'length' || k === 'frame' || k === 'storedProperties') continue;
      o[k] = norm(x, k);
    }
    return o;
  }
  return v;
}

const ACKS = new Set(['puback', 'pubrec', 'pubrel', 'pubcomp']);

/**
 * A decoded packet as the broker uses it: the fixed-header flags mqtt-packet copies onto
 * every packet mean something only on PUBLISH; an MQTT 5 acknowledgement without a reason
 * code has reason 0 (MQTT-3.4.2.1), which mqtt-packet writes in and the fast path leaves out.
 */
function normPacket(p: Packet, v: ProtocolVersion): unknown {
  const o = norm(p) as Record<string, unknown>;
  if (o.cmd !== 'publish') {
    delete o.retain;
    delete o.qos;
    delete o.dup;
  }
  if (v === 5 && ACKS.has(o.cmd as string) && o.reasonCode === undefined) o.reasonCode = 0;
  return o;
}

/** Every field the generated packet has is in the decoded one, equal. */
function expectContains(decoded: unknown, original: unknown): void {
  const d = norm(decoded) as Record<string, unknown>;
  const o = norm(original) as Record<string, unknown>;
  for (const k of Object.keys(o)) expect(d[k], k).toEqual(o[k]);
}

const chars = fc.constantFrom('a', 'b', '/', 'é', '€', '$', ' ', 'x', '𝄞');
const str = fc.array(chars, { maxLength: 10 }).map((a) => a.join(''));
const topic = fc.array(chars, { minLength: 1, maxLength: 10 }).map((a) => a.join(''));
const buf = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const mid = fc.integer({ min: 1, max: 65535 });
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>;
/** User properties; repeated names only where the codec keeps wire order (PUBLISH, will). */
const userProps = (repeats: boolean): fc.Arbitrary<[string, string][]> =>
  // Repeated names get non-empty values: mqtt-packet's parser loses an empty value when the
  // same name follows (ours keeps it; the identity property checks ours).
  fc.array(fc.tuple(repeats ? fc.constantFrom('k', 'n') : str, repeats ? str.filter((x) => x !== '') : str), { maxLength: 3 }).map((l) => (repeats ? l : [...new Map(l)]));
const withProps = (v: ProtocolVersion, props: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<{ properties?: Record<string, unknown> }> =>
  v === 5 ? props.map((p) => (Object.keys(p).length > 0 ? { properties: p } : {})) : fc.constant({});
const up = (repeats = false): fc.Arbitrary<Record<string, unknown>> =>
  userProps(repeats).map((l) => (l.length > 0 ? { userProperties: l } : {}));
const reasonProps = fc.tuple(up(), fc.option(str, { nil: undefined })).map(([u, r]) => (r === undefined ? u : { ...u, reasonString: r }));

function packetArb(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const publishProps = fc
    .record({ payloadFormatIndicator: fc.boolean(), messageExpiryInterval: fc.nat(), contentType: str, responseTopic: topic, correlationData: buf }, { requiredKeys: [] })
    .chain((p) => up(true).map((u) => ({ ...p, ...u })));
  const publish = fc
    .tuple(topic, buf, qos, fc.boolean(), fc.boolean(), mid, withProps(v, publishProps))
    .map(([t, payload, q, retain, dup, m, p]) => ({ cmd: 'publish', topic: t, payload, qos: q, retain, dup: q > 0 ? dup : false, ...(q > 0 ? { messageId: m } : {}), ...p }));
  const ack = fc
    .tuple(fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), mid, fc.constantFrom(0, 0x10, 0x80, 0x92), withProps(v, reasonProps))
    .map(([cmd, m, rc, p]) => {
      const code = cmd === 'pubrel' || cmd === 'pubcomp' ? (rc === 0 ? 0 : 0x92) : rc === 0x92 ? 0x80 : rc;
      return { cmd, messageId: m, ...(v === 5 && (code !== 0 || p.properties !== undefined) ? { reasonCode: code } : {}), ...p };
    });
  const will = fc
    .tuple(topic, buf, qos, fc.boolean(), withProps(v, fc.tuple(up(true), fc.option(fc.nat(), { nil: undefined })).map(([u, d]) => (d === undefined ? u : { ...u, willDelayInterval: d }))))
    .map(([t, payload, q, retain, p]) => ({ topic: t, payload, qos: q, retain, ...p }));
  const connect = fc
    .tuple(str.filter((s) => v !== 3 || s.length > 0), fc.boolean(), fc.nat({ max: 65535 }), fc.option(will, { nil: undefined }), fc.option(str, { nil: undefined }), fc.option(buf, { nil: undefined }), withProps(v, fc.record({ sessionExpiryInterval: fc.nat(), receiveMaximum: fc.integer({ min: 1, max: 65535 }) }, { requiredKeys: [] }).chain((p) => up().map((u) => ({ ...p, ...u })))))
    .map(([clientId, clean, keepalive, w, username, password, p]) => ({
      cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clientId, clean, keepalive,
      ...(w !== undefined ? { will: w } : {}), ...(username !== undefined ? { username } : {}), ...(username !== undefined && password !== undefined ? { password } : {}), ...p,
    }));
  const subscribe = fc
    .tuple(mid, fc.array(fc.tuple(topic, qos, fc.boolean(), fc.boolean(), fc.constantFrom(0, 1, 2)), { minLength: 1, maxLength: 4 }), withProps(v, up()))
    .map(([m, subs, p]) => ({ cmd: 'subscribe', messageId: m, subscriptions: subs.map(([t, q, nl, rap, rh]) => (v === 5 ? { topic: t, qos: q, nl, rap, rh } : { topic: t, qos: q })), ...p }));
  const unsubscribe = fc
    .tuple(mid, fc.array(topic, { minLength: 1, maxLength: 4 }), withProps(v, up()))
    .map(([m, u, p]) => ({ cmd: 'unsubscribe', messageId: m, unsubscriptions: u, ...p }));
  const suback = fc
    .tuple(mid, fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 4 }), withProps(v, reasonProps))
    .map(([m, granted, p]) => ({ cmd: 'suback', messageId: m, granted, ...p }));
  const connack = fc
    .tuple(fc.boolean(), fc.constantFrom(0, 1, 2, 3, 4, 5), withProps(v, reasonProps))
    .map(([sp, rc, p]) => (v === 5 ? { cmd: 'connack', sessionPresent: sp, reasonCode: rc === 0 ? 0 : 0x80 + rc, ...p } : { cmd: 'connack', sessionPresent: sp, returnCode: rc }));
  const simple = fc.constantFrom({ cmd: 'pingreq' }, { cmd: 'pingresp' }, ...(v === 5 ? [] : [{ cmd: 'disconnect' }]));
  const v5only =
    v === 5
      ? [
          fc.tuple(fc.constantFrom(0, 4, 0x80, 0x8e), withProps(v, reasonProps)).map(([rc, p]) => ({ cmd: 'disconnect', reasonCode: rc, ...p })),
          fc.tuple(fc.constantFrom(0x18, 0x19), str, buf).map(([rc, m, d]) => ({ cmd: 'auth', reasonCode: rc, properties: { authenticationMethod: m, authenticationData: d } })),
          fc.tuple(mid, fc.array(fc.constantFrom(0, 0x11, 0x80), { minLength: 1, maxLength: 3 }), withProps(v, reasonProps)).map(([m, g, p]) => ({ cmd: 'unsuback', messageId: m, granted: g, ...p })),
        ]
      : [mid.map((m) => ({ cmd: 'unsuback', messageId: m }))];
  return fc.oneof(publish, ack, connect, subscribe, unsubscribe, suback, connack, simple, ...v5only) as fc.Arbitrary<Packet>;
}

describe.each([3, 4, 5] as const)('MQTT protocol level %i (fast-check)', (v) => {
  it('encode then decode is identity, for every packet type', () => {
    fc.assert(
      fc.property(packetArb(v), (p) => {
        const decoded = ours(encodePacket(p, v), v);
        expect(decoded).toHaveLength(1);
        expectContains(decoded[0], p);
      }),
      { numRuns: 600 },
    );
  });

  it('the fast decoders agree with mqtt-packet on every generated packet, in any chunking', () => {
    fc.assert(
      // A CONNECT only first, as on a real connection (mqtt-packet's parser keeps state from one).
      fc.property(fc.array(packetArb(v), { minLength: 1, maxLength: 5 }).filter((l) => l.every((p, i) => i === 0 || p.cmd !== 'connect')), fc.array(fc.nat(), { maxLength: 4 }), (packets, cuts) => {
        const bytes = Buffer.concat(packets.map((p) => encodePacket(p, v)));
        const a = ours(bytes, v, cuts);
        const b = theirs(bytes, v);
        expect(a.map((p) => normPacket(p, v))).toEqual(b.map((p) => normPacket(p, v)));
      }),
      { numRuns: 400 },
    );
  });
});

describe('user properties (fast-check)', () => {
  it('a pair repeated exactly is kept, in wire order, and both decoders agree on it', () => {
    const p = { cmd: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { userProperties: [['k', 'x'], ['n', 'y'], ['k', 'x']] } };
    const bytes = encodePacket(p as Packet, 5);
    const a = ours(bytes, 5);
    expect((a[0] as { properties: { userProperties: unknown } }).properties.userProperties).toEqual([['k', 'x'], ['n', 'y'], ['k', 'x']]);
    expect(a.map((x) => normPacket(x, 5))).toEqual(theirs(bytes, 5).map((x) => normPacket(x, 5)));
  });

  it('userPropertyObject and userPropertyList are inverse for distinct names', () => {
    fc.assert(
      fc.property(userProps(false), (l) => {
        expect(userPropertyList(userPropertyObject(l))).toEqual(l);
      }),
      { numRuns: 300 },
    );
  });
});
