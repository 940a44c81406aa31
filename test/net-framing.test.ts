/**
 * The connection's own framing: PUBLISH and acks decoded from the chunk, everything else
 * through mqtt-packet, whatever the chunk boundaries are.
 */
import { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/net/connection.js';
import type { Packet } from '../src/protocol/index.js';

function harness(max = 0): { conn: Connection; stream: Duplex; got: Packet[]; errors: Error[] } {
  const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const conn = new Connection(stream);
  conn.maxInboundPacket = max;
  const got: Packet[] = [];
  const errors: Error[] = [];
  conn.setHandler({ onPacket: (p) => got.push(p), onProtocolError: (e) => errors.push(e), onClose: () => {} });
  return { conn, stream, got, errors };
}

const gen = (p: object): Buffer => mqttPacket.generate(p as never, { protocolVersion: 4 }) as Buffer;

const packets = [
  { cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/#', qos: 1 }] },
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, retain: true, dup: false, messageId: 9 },
  { cmd: 'publish', topic: 'ü/ß', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
  { cmd: 'publish', topic: 't', payload: Buffer.alloc(70000, 7), qos: 2, retain: false, dup: true, messageId: 65535 },
  { cmd: 'puback', messageId: 1 },
  { cmd: 'pubrec', messageId: 2 },
  { cmd: 'pubrel', messageId: 3 },
  { cmd: 'pubcomp', messageId: 4 },
  { cmd: 'pingreq' },
  { cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['a/#'] },
];
const wire = Buffer.concat(packets.map(gen));

function summary(p: Packet): unknown {
  const r = p as unknown as Record<string, unknown>;
  if (r.cmd === 'subscribe') return { cmd: r.cmd, messageId: r.messageId, subscriptions: r.subscriptions };
  if (r.cmd === 'unsubscribe') return { cmd: r.cmd, messageId: r.messageId, unsubscriptions: r.unsubscriptions };
  return {
    cmd: r.cmd,
    messageId: r.messageId,
    topic: r.topic,
    qos: r.qos,
    retain: r.retain,
    dup: r.dup,
    payload: r.payload ? Buffer.from(r.payload as Buffer).toString('hex') : undefined,
  };
}

describe('connection framing', () => {
  const expected = packets.map((p) => summary(p as unknown as Packet));

  it('decodes a run of packets in one chunk as mqtt-packet would', () => {
    const h = harness();
    h.stream.emit('data', wire);
    expect(h.got.map(summary)).toEqual(expected);
    expect(h.errors).toEqual([]);
  });

  it('gives the same packets whatever the chunk boundaries', () => {
    for (const size of [1, 2, 3, 5, 7, 64, 1000, 16384]) {
      const h = harness();
      for (let i = 0; i < wire.length; i += size) h.stream.emit('data', wire.subarray(i, i + size));
      expect(h.got.map(summary), `chunks of ${size}`).toEqual(expected);
    }
  });

  it('refuses a remaining length of more than four bytes', () => {
    const h = harness();
    h.stream.emit('data', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(h.errors.map((e) => e.message)).toEqual(['Invalid variable byte integer']);
  });

  it('refuses reserved header flags and QoS 3 on the first byte', () => {
    const a = harness();
    a.stream.emit('data', Buffer.from([0x47, 0x45]));
    expect(a.errors).toHaveLength(1);
    const b = harness();
    b.stream.emit('data', Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]));
    expect(b.errors.map((e) => e.message)).toEqual(['Packet must not have both QoS bits set to 1']);
  });

  it('refuses a packet over the maximum as soon as its header says so', () => {
    const h = harness(100);
    h.stream.emit('data', Buffer.from([0x30, 0xc8, 0x01, 0x00])); // remaining length 200, 3 bytes sent
    expect(h.errors.map((e) => e.message)).toEqual(['packet too large']);
    expect(h.got).toEqual([]);
  });

  it('copies a small payload so that it does not pin the chunk', () => {
    const h = harness();
    const small = gen({ cmd: 'publish', topic: 'x', payload: Buffer.from('ab'), qos: 0, retain: false, dup: false });
    const chunk = Buffer.concat([small, Buffer.alloc(4096, 0xc0).fill(0).map((_, i) => (i % 2 === 0 ? 0xc0 : 0x00))]);
    h.stream.emit('data', chunk);
    const p = h.got[0] as unknown as { payload: Buffer };
    expect(p.payload.toString()).toBe('ab');
    expect(p.payload.buffer === chunk.buffer && p.payload.byteOffset >= chunk.byteOffset && p.payload.byteOffset < chunk.byteOffset + chunk.length).toBe(false);
  });
});
