/**
 * QoS 0, 1 and 2 in both directions (MQTT-4.3), the inflight window
 * (max_inflight_messages), the bounded queue (max_queued_messages), QoS 2 exactly once and
 * order per topic (MQTT-4.6).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket, IPubrelPacket as PubrelPacket, Packet } from 'mqtt-packet';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';
import { publishV5, RawFrames } from './helpers/raw-frames.js';

afterEach(stopBrokers);

async function pair(b: TestBroker, filter: string, subQos: 0 | 1 | 2): Promise<{ sub: RawClient; pub: RawClient }> {
  const sub = await b.connect({ clientId: 'subber' });
  expect((await sub.subscribe(filter, subQos)).granted).toEqual([subQos]);
  const pub = await b.connect({ clientId: 'pubber' });
  return { sub, pub };
}

const publishes = (packets: { cmd: string }[]): IPublishPacket[] => packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];

describe('QoS 0', () => {
  it('is delivered at QoS 0 without a packet id or ack', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'a/b', 2);
    pub.publish('a/b', 'zero');
    const m = await sub.nextPublish();
    expect([m.topic, String(m.payload), m.qos, m.retain, m.dup]).toEqual(['a/b', 'zero', 0, false, false]);
    expect(m.messageId).toBeUndefined();
    expect(await pub.sync()).toEqual([]);
  });
});

describe('QoS 1', () => {
  it('is acknowledged with PUBACK and delivered at QoS 1; the subscriber PUBACK completes it', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'a/b', 1);
    pub.publish('a/b', 'hello', { qos: 1, messageId: 42 });
    const ack = await pub.next('puback');
    expect(ack.messageId).toBe(42);
    const m = await sub.nextPublish();
    expect([m.qos, m.dup, String(m.payload)]).toEqual([1, false, 'hello']);
    expect(m.messageId).toBeGreaterThan(0);
    sub.send({ cmd: 'puback', messageId: m.messageId });
    await sub.sync();
    expect(b.broker.sessions.get('subber')!.inflight.size).toBe(0);
    await b.waitForLine(`Received PUBACK from subber (Mid: ${m.messageId}, RC:0)`);
    expect(b.lines).toContain("Received PUBLISH from pubber (d0, q1, r0, m42, 'a/b', ... (5 bytes))");
    expect(b.lines).toContain('Sending PUBACK to pubber (m42, rc0)');
  });

  it('a PUBACK for an unknown id is ignored', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'x' });
    c.send({ cmd: 'puback', messageId: 999 });
    expect(await c.sync()).toEqual([]);
    expect(c.isClosed).toBe(false);
  });
});

describe('QoS 2', () => {
  it('inbound: PUBREC, nothing routed until PUBREL, then PUBCOMP', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'a/b', 2);
    pub.publish('a/b', 'two', { qos: 2, messageId: 7 });
    expect((await pub.next('pubrec')).messageId).toBe(7);
    expect(await sub.sync()).toEqual([]);
    pub.send({ cmd: 'pubrel', messageId: 7 });
    expect((await pub.next('pubcomp')).messageId).toBe(7);
    const m = await sub.nextPublish();
    expect([m.qos, String(m.payload)]).toEqual([2, 'two']);
  });

  it('is exactly once: a re-sent PUBLISH with the same id before PUBREL is not delivered again (MQTT-4.3.3)', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'a/b', 2);
    pub.publish('a/b', 'once', { qos: 2, messageId: 9 });
    expect((await pub.next('pubrec')).messageId).toBe(9);
    pub.publish('a/b', 'once', { qos: 2, messageId: 9, dup: true });
    expect((await pub.next('pubrec')).messageId).toBe(9);
    pub.send({ cmd: 'pubrel', messageId: 9 });
    await pub.next('pubcomp');
    // A repeated PUBREL (lost PUBCOMP) is answered but delivers nothing.
    pub.send({ cmd: 'pubrel', messageId: 9 });
    expect((await pub.next('pubcomp')).messageId).toBe(9);
    // Barrier: a QoS 0 marker published after must be the next thing after the one copy.
    pub.publish('a/b', 'marker');
    const got = [await sub.nextPublish(), await sub.nextPublish()].map((p) => String(p.payload));
    expect(got).toEqual(['once', 'marker']);
    expect(publishes(await sub.sync())).toEqual([]);
  });

  it('a PUBREC for an unknown id is answered with PUBREL and a warning, as Mosquitto does', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'unk' });
    c.send({ cmd: 'pubrec', messageId: 34 });
    expect((await c.next('pubrel')).messageId).toBe(34);
    expect(b.lines).toContain('Warning: Received PUBREC from unk for an unknown packet identifier 34.');
    c.send({ cmd: 'pubrel', messageId: 36 });
    expect((await c.next('pubcomp')).messageId).toBe(36);
  });

  it('an MQTT 5 client gets the same plain PUBREL for an unknown PUBREC, as from Mosquitto', async () => {
    const b = await startBroker();
    const { openRaw } = await import('./helpers/broker.js');
    const c = await openRaw(b.port);
    await c.handshake({ clientId: 'unk5', version: 5 });
    c.send({ cmd: 'pubrec', messageId: 77, reasonCode: 0 });
    const rel = await c.next<PubrelPacket>('pubrel');
    expect([rel.messageId, rel.reasonCode ?? 0]).toEqual([77, 0]);
    expect(b.lines).toContain('Received PUBREC from unk5 (Mid: 77)');
    expect(b.lines).toContain('Sending PUBREL to unk5 (m77)');
  });

  it('outbound: PUBLISH, PUBREC -> PUBREL, PUBCOMP frees the slot', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'a/b', 2);
    pub.publish('a/b', 'out', { qos: 2, messageId: 1 });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 1 });
    const m = await sub.nextPublish();
    expect(m.qos).toBe(2);
    sub.send({ cmd: 'pubrec', messageId: m.messageId });
    expect((await sub.next('pubrel')).messageId).toBe(m.messageId);
    sub.send({ cmd: 'pubcomp', messageId: m.messageId });
    await sub.sync();
    expect(b.broker.sessions.get('subber')!.inflight.size).toBe(0);
    await b.waitForLine(`Received PUBCOMP from subber (Mid: ${m.messageId}, RC:0)`);
    expect(b.lines).toContain(`Sending PUBREL to subber (m${m.messageId})`);
    expect(b.lines).toContain(`Received PUBREC from subber (Mid: ${m.messageId})`);
    expect(b.lines).toContain('Received PUBREL from pubber (Mid: 1)');
    expect(b.lines).toContain('Sending PUBCOMP to pubber (m1)');
  });
});

describe('QoS downgrade (MQTT-3.8.4-6)', () => {
  const cases: [0 | 1 | 2, 0 | 1 | 2, number][] = [
    [2, 0, 0],
    [2, 1, 1],
    [1, 0, 0],
    [0, 2, 0],
    [1, 2, 1],
  ];
  it.each(cases)('published at QoS %i to a QoS %i subscription arrives at QoS %i', async (pubQos, subQos, expected) => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'd', subQos);
    pub.publish('d', 'x', { qos: pubQos, messageId: 3 });
    if (pubQos === 2) {
      await pub.next('pubrec');
      pub.send({ cmd: 'pubrel', messageId: 3 });
    }
    expect((await sub.nextPublish()).qos).toBe(expected);
  });
});

describe('inflight window (max_inflight_messages)', () => {
  it('holds messages beyond the window and releases one per PUBACK, in order', async () => {
    const b = await startBroker({ maxInflightMessages: 2 });
    const { sub, pub } = await pair(b, 'w', 1);
    for (let i = 1; i <= 5; i++) pub.publish('w', `m${i}`, { qos: 1, messageId: i });
    for (let i = 1; i <= 5; i++) await pub.next('puback');
    let got = publishes(await sub.sync());
    expect(got.map((p) => String(p.payload))).toEqual(['m1', 'm2']);
    expect(b.broker.sessions.get('subber')!.queue.length).toBe(3);
    sub.send({ cmd: 'puback', messageId: got[0].messageId });
    got = [await sub.nextPublish()];
    expect(String(got[0].payload)).toBe('m3');
    expect(publishes(await sub.sync())).toEqual([]);
    // Acking each message as it arrives drains the rest in order.
    sub.send({ cmd: 'puback', messageId: got[0].messageId });
    sub.send({ cmd: 'puback', messageId: 2 });
    const seen: string[] = [];
    while (seen.length < 2) {
      const m = await sub.nextPublish();
      seen.push(String(m.payload));
      sub.send({ cmd: 'puback', messageId: m.messageId });
    }
    expect(seen).toEqual(['m4', 'm5']);
    await sub.sync();
    expect(b.broker.sessions.get('subber')!.inflight.size).toBe(0);
    expect(b.broker.sessions.get('subber')!.queue.length).toBe(0);
  });

  it('applies to QoS 2 until PUBCOMP', async () => {
    const b = await startBroker({ maxInflightMessages: 1 });
    const sub = await b.connect({ clientId: 'subber' });
    await sub.subscribe('w', 2);
    const pub = await b.connect({ clientId: 'pubber' });
    pub.publish('w', 'a', { qos: 1, messageId: 1 });
    pub.publish('w', 'b', { qos: 1, messageId: 2 });
    await pub.next('puback');
    await pub.next('puback');
    const first = await sub.nextPublish();
    expect(publishes(await sub.sync())).toEqual([]);
    expect(first.qos).toBe(1);
    sub.send({ cmd: 'puback', messageId: first.messageId });
    expect(String((await sub.nextPublish()).payload)).toBe('b');
  });

  it('QoS 0 messages are not held by the window', async () => {
    const b = await startBroker({ maxInflightMessages: 1 });
    const sub = await b.connect({ clientId: 'subber' });
    await sub.subscribe('w', 0);
    const pub = await b.connect({ clientId: 'pubber' });
    for (let i = 0; i < 5; i++) pub.publish('w', `q0-${i}`);
    await pub.sync();
    const got = [];
    for (let i = 0; i < 5; i++) got.push(String((await sub.nextPublish()).payload));
    expect(got).toEqual(['q0-0', 'q0-1', 'q0-2', 'q0-3', 'q0-4']);
  });
});

describe('bounded queue (max_queued_messages)', () => {
  it('drops messages beyond the queue, logs once, and delivers the rest', async () => {
    const b = await startBroker({ maxInflightMessages: 1, maxQueuedMessages: 2 });
    const { sub, pub } = await pair(b, 'q', 1);
    for (let i = 1; i <= 6; i++) pub.publish('q', `m${i}`, { qos: 1, messageId: i });
    for (let i = 1; i <= 6; i++) await pub.next('puback');
    const session = b.broker.sessions.get('subber')!;
    expect(session.inflight.size).toBe(1);
    expect(session.queue.length).toBe(2);
    expect(b.broker.stats.publishDropped).toBe(3);
    expect(b.lines.filter((l) => l === 'Outgoing messages are being dropped for client subber.')).toHaveLength(1);
    const seen: string[] = [];
    while (seen.length < 3) {
      const m = await sub.nextPublish();
      seen.push(String(m.payload));
      sub.send({ cmd: 'puback', messageId: m.messageId });
    }
    expect(seen).toEqual(['m1', 'm2', 'm3']);
    expect(publishes(await sub.sync())).toEqual([]);
  });
});

describe('order per topic (MQTT-4.6.0-6)', () => {
  // QoS 2 messages are routed at PUBREL, so each stream keeps the order of its releases.
  it.each([1, 2] as const)('keeps publish order through a small window at QoS %i', async (qos) => {
    const b = await startBroker({ maxInflightMessages: 3 });
    const sub = await b.connect({ clientId: 'subber' });
    await sub.subscribe('o/#', 2);
    const pub = await b.connect({ clientId: 'pubber' });
    const n = 40;
    for (let i = 1; i <= n; i++) pub.publish('o/t', String(i), { qos, messageId: i });
    const pubDone = (async () => {
      for (let i = 1; i <= n; i++) {
        const p = await pub.waitFor((x) => x.cmd === 'puback' || x.cmd === 'pubrec');
        if (p.cmd === 'pubrec') pub.send({ cmd: 'pubrel', messageId: p.messageId });
      }
    })();
    const seen: number[] = [];
    while (seen.length < n) {
      const m = await sub.waitFor((x) => x.cmd === 'publish' || x.cmd === 'pubrel');
      if (m.cmd === 'pubrel') {
        sub.send({ cmd: 'pubcomp', messageId: m.messageId });
        continue;
      }
      const p = m as IPublishPacket;
      expect(p.qos).toBe(qos);
      seen.push(Number(String(p.payload)));
      sub.send(p.qos === 1 ? { cmd: 'puback', messageId: p.messageId } : { cmd: 'pubrec', messageId: p.messageId });
    }
    await pubDone;
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });
});

describe('framing and size', () => {
  it('packets written one byte at a time, and many packets in one write, are all processed', async () => {
    const b = await startBroker();
    const { sub, pub } = await pair(b, 'f/#', 1);
    const { encode } = await import('./helpers/raw-client.js');
    const one = encode({ cmd: 'publish', topic: 'f/slow', payload: Buffer.from('dribbled'), qos: 1, messageId: 1, retain: false, dup: false });
    for (const byte of one) {
      pub.sendRaw([byte]);
      await new Promise((r) => setImmediate(r));
    }
    expect((await pub.next('puback')).messageId).toBe(1);
    const many = Buffer.concat(
      Array.from({ length: 100 }, (_, i) =>
        encode({ cmd: 'publish', topic: 'f/fast', payload: Buffer.from(String(i)), qos: 1, messageId: i + 2, retain: false, dup: false }),
      ),
    );
    pub.sendRaw(many);
    for (let i = 0; i < 100; i++) expect((await pub.next('puback')).messageId).toBe(i + 2);
    const got: string[] = [];
    while (got.length < 101) {
      const m = await sub.nextPublish();
      got.push(String(m.payload));
      sub.send({ cmd: 'puback', messageId: m.messageId });
    }
    expect(got).toEqual(['dribbled', ...Array.from({ length: 100 }, (_, i) => String(i))]);
  });

  it('a 2 MB payload arrives intact at every subscriber', async () => {
    const b = await startBroker();
    const subs = [];
    for (let i = 0; i < 3; i++) {
      const s = await b.connect({ clientId: `big${i}` });
      await s.subscribe('big', i % 2 === 0 ? 1 : 0);
      subs.push(s);
    }
    const pub = await b.connect({ clientId: 'pubber' });
    const payload = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    pub.publish('big', payload, { qos: 1, messageId: 9 });
    await pub.next('puback', 10000);
    for (const s of subs) {
      const m = await s.nextPublish(10000);
      expect(Buffer.compare(m.payload as Buffer, payload)).toBe(0);
    }
  });
});

describe('PUBACK 0x10 No matching subscribers (MQTT 5, 3.4.2.1), as Mosquitto sends it', () => {
  /** The raw acknowledgement of one PUBLISH from `c`. */
  async function ackBytes(c: RawClient, topic: string, qos: 1 | 2, mid: number, retain = false): Promise<string> {
    const frames = new RawFrames(c);
    c.socket.write(publishV5(topic, 'x', Buffer.alloc(0), { qos, mid, retain }));
    return (await frames.next(qos === 1 ? 4 : 5)).toString('hex');
  }

  it('is the PUBACK reason when no subscription matches, retained or not; rc16 in the log', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub5', version: 5 });
    expect(await ackBytes(pub, 'nobody/here', 1, 1)).toBe('4003000110');
    expect(await ackBytes(pub, 'nobody/here', 1, 2, true)).toBe('4003000210');
    expect(b.hasLine('Sending PUBACK to pub5 (m1, rc16)')).toBe(true);
    const sub = await b.connect({ clientId: 'sub', version: 5 });
    await sub.subscribe('nobody/+', 1);
    expect(await ackBytes(pub, 'nobody/here', 1, 3)).toBe('40020003');
  });

  it('not for 3.1.1 (no reason code: the log says rc0), nor on a QoS 2 PUBREC', async () => {
    const b = await startBroker();
    const pub4 = await b.connect({ clientId: 'pub4' });
    pub4.publish('nobody/here', 'x', { qos: 1, messageId: 7 });
    expect((await pub4.next('puback')).messageId).toBe(7);
    expect(b.hasLine('Sending PUBACK to pub4 (m7, rc0)')).toBe(true);
    const pub5 = await b.connect({ clientId: 'pub5', version: 5 });
    expect(await ackBytes(pub5, 'nobody/here', 2, 8)).toBe('50020008');
  });

  it('a subscription that no_local skips at delivery still counts as matching', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'self', version: 5 });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't/#', qos: 1, nl: true }] } as Packet);
    await c.next('suback');
    expect(await ackBytes(c, 't/1', 1, 9)).toBe('40020009');
  });
});
