/**
 * Property-based (fast-check): the hand-written CONNECT decoder (protocol/connect-decode.ts,
 * issue 17's connect fast path) agrees with mqtt-packet's parser. On every generated 3.1
 * and 3.1.1 CONNECT (will, username, password, bridge bit, any UTF-8) it decodes the packet
 * mqtt-packet gives; on the same packets with bytes overwritten it either gives exactly
 * mqtt-packet's packet or leaves the frame to mqtt-packet, never a packet of its own.
 */
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { decodeConnect } from '../src/protocol/connect-decode.js';

/** mqtt-packet's verdict on one whole frame: its packet or its error. */
function reference(frame: Buffer): unknown {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let out: unknown;
  parser.on('packet', (p: unknown) => (out ??= p));
  parser.on('error', (e: Error) => (out ??= e));
  parser.parse(frame);
  return out;
}

/** Where the variable header starts: after the type byte and the remaining length. */
function bodyOf(frame: Buffer): number {
  let i = 1;
  while (frame[i]! & 0x80) i++;
  return i + 1;
}

const str = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constant(''));
const connectArb = fc
  .record({
    v: fc.constantFrom(3, 4),
    clientId: str,
    clean: fc.boolean(),
    keepalive: fc.integer({ min: 0, max: 65535 }),
    bridgeMode: fc.boolean(),
    will: fc.option(fc.record({ topic: str, payload: fc.uint8Array({ maxLength: 300 }), qos: fc.constantFrom(0, 1, 2), retain: fc.boolean() }), { nil: undefined }),
    username: fc.option(str, { nil: undefined }),
    password: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
  })
  .map((r) => encodeConnect(r));

/**
 * The bytes of a CONNECT, written here rather than by mqtt-packet's generator, which
 * refuses some combinations a client may still send (a password without a username, an
 * empty client id with clean session off) that the parser must read all the same.
 */
function encodeConnect(r: {
  v: number; clientId: string; clean: boolean; keepalive: number; bridgeMode: boolean;
  will?: { topic: string; payload: Uint8Array; qos: number; retain: boolean };
  username?: string; password?: Uint8Array;
}): Buffer {
  const field = (b: Uint8Array): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  const flags =
    (r.username !== undefined ? 0x80 : 0) | (r.password !== undefined ? 0x40 : 0) |
    (r.will ? (r.will.retain ? 0x20 : 0) | (r.will.qos << 3) | 0x04 : 0) | (r.clean ? 0x02 : 0);
  const parts = [
    field(Buffer.from(r.v === 3 ? 'MQIsdp' : 'MQTT')),
    Buffer.from([r.v | (r.bridgeMode ? 0x80 : 0), flags, r.keepalive >> 8, r.keepalive & 0xff]),
    field(Buffer.from(r.clientId)),
  ];
  if (r.will) parts.push(field(Buffer.from(r.will.topic)), field(r.will.payload));
  if (r.username !== undefined) parts.push(field(Buffer.from(r.username)));
  if (r.password !== undefined) parts.push(field(r.password));
  const body = Buffer.concat(parts);
  const len: number[] = [];
  let n = body.length;
  do {
    let d = n & 0x7f;
    n >>= 7;
    if (n > 0) d |= 0x80;
    len.push(d);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x10, ...len]), body]);
}

describe('hand-written CONNECT decoder', () => {
  it('decodes every generated 3.1 and 3.1.1 CONNECT as mqtt-packet does', () => {
    fc.assert(
      fc.property(connectArb, (frame) => {
        const ours = decodeConnect(frame, bodyOf(frame), frame.length);
        expect(ours).toBeDefined();
        expect(ours).toEqual(reference(frame));
      }),
      { numRuns: 2000 },
    );
  });

  it("on damaged CONNECTs gives mqtt-packet's packet or none, never another", () => {
    fc.assert(
      fc.property(connectArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (frame, edits) => {
        const body = bodyOf(frame);
        const damaged = Buffer.from(frame);
        // Keep the fixed header: the frame splitter has already checked it.
        for (const [at, byte] of edits) damaged[body + (at % (damaged.length - body))] = byte;
        const ours = decodeConnect(damaged, body, damaged.length);
        if (ours !== undefined) expect(ours).toEqual(reference(damaged));
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves MQTT 5 CONNECTs, trailing bytes and truncated frames to mqtt-packet', () => {
    const v5 = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'a', clean: true, keepalive: 10 } as never);
    expect(decodeConnect(v5, bodyOf(v5), v5.length)).toBeUndefined();
    const v4 = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'abc', clean: true, keepalive: 10 } as never);
    expect(decodeConnect(v4, bodyOf(v4), v4.length)).toMatchObject({ clientId: 'abc', keepalive: 10, protocolVersion: 4 });
    const longer = Buffer.concat([v4, Buffer.from([0])]);
    expect(decodeConnect(longer, bodyOf(v4), longer.length)).toBeUndefined();
    expect(decodeConnect(v4, bodyOf(v4), v4.length - 1)).toBeUndefined();
  });

  it('copies the will payload and the password out of the chunk they came in', () => {
    const generated = mqttPacket.generate({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'w', clean: true, keepalive: 0,
      will: { topic: 't', payload: Buffer.from('bye'), qos: 1, retain: false }, username: 'u', password: Buffer.from('pw'),
    } as never);
    // A chunk of its own (Buffer.alloc is never from the shared pool).
    const frame = Buffer.alloc(generated.length);
    generated.copy(frame);
    const p = decodeConnect(frame, bodyOf(frame), frame.length)!;
    expect([String(p.will!.payload), String(p.password)]).toEqual(['bye', 'pw']);
    expect(p.will!.payload.buffer).not.toBe(frame.buffer);
    expect((p.password as Buffer).buffer).not.toBe(frame.buffer);
  });
});
