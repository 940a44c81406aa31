/**
 * Persistent sessions (clean session 0, MQTT-3.1.2-4/5, MQTT-4.4): subscriptions and QoS 1/2
 * messages kept while offline, session present in CONNACK, redelivery with DUP set;
 * clean session 1 discards what was there (MQTT-3.1.2-6).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { openRaw, startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(stopBrokers);

async function reconnect(b: TestBroker, clientId: string, clean: boolean): Promise<{ c: RawClient; present: boolean }> {
  const c = await openRaw(b.port);
  const connack = await c.handshake({ clientId, clean });
  expect(connack.returnCode).toBe(0);
  return { c, present: connack.sessionPresent };
}

/** Closes without DISCONNECT and waits until the broker has noticed. */
async function drop(b: TestBroker, c: RawClient, clientId: string): Promise<void> {
  c.destroy();
  await b.waitForLine(`Client ${clientId} closed its connection.`);
}

const publishes = (ps: { cmd: string }[]): IPublishPacket[] => ps.filter((p) => p.cmd === 'publish') as IPublishPacket[];

describe('persistent sessions', () => {
  it('keep subscriptions and QoS 1/2 messages while offline; QoS 0 is not queued', async () => {
    const b = await startBroker();
    const first = await b.connect({ clientId: 'sleeper', clean: false });
    await first.subscribe('s/#', 2);
    first.disconnect();
    await b.waitForLine('Client sleeper disconnected.');

    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('s/0', 'q0');
    pub.publish('s/1', 'q1', { qos: 1, messageId: 1 });
    await pub.next('puback');
    pub.publish('s/2', 'q2', { qos: 2, messageId: 2 });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 2 });
    await pub.next('pubcomp');
    expect(b.broker.sessions.get('sleeper')!.queue.length).toBe(2);

    const { c, present } = await reconnect(b, 'sleeper', false);
    expect(present).toBe(true);
    expect(b.lines).toContain('Sending CONNACK to sleeper (1, 0)');
    const m1 = await c.nextPublish();
    const m2 = await c.nextPublish();
    expect([m1.topic, m1.qos, m2.topic, m2.qos]).toEqual(['s/1', 1, 's/2', 2]);
    c.send({ cmd: 'puback', messageId: m1.messageId });
    c.send({ cmd: 'pubrec', messageId: m2.messageId });
    await c.next('pubrel');
    c.send({ cmd: 'pubcomp', messageId: m2.messageId });
    expect(publishes(await c.sync())).toEqual([]);
    // The subscription is still there for live messages.
    pub.publish('s/live', 'now', { qos: 1, messageId: 3 });
    expect((await c.nextPublish()).topic).toBe('s/live');
  });

  it('keep the offline queue in order and within max_queued_messages', async () => {
    const b = await startBroker({ maxQueuedMessages: 3 });
    const first = await b.connect({ clientId: 'sleeper', clean: false });
    await first.subscribe('o', 1);
    await drop(b, first, 'sleeper');
    const pub = await b.connect({ clientId: 'pub' });
    for (let i = 1; i <= 5; i++) pub.publish('o', `m${i}`, { qos: 1, messageId: i });
    for (let i = 1; i <= 5; i++) await pub.next('puback');
    const { c } = await reconnect(b, 'sleeper', false);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await c.nextPublish();
      got.push(String(m.payload));
      c.send({ cmd: 'puback', messageId: m.messageId });
    }
    expect(got).toEqual(['m1', 'm2', 'm3']);
    expect(publishes(await c.sync())).toEqual([]);
  });

  it('count messages left in flight towards max_queued_messages while offline, as Mosquitto', async () => {
    const b = await startBroker({ maxQueuedMessages: 2 });
    const first = await b.connect({ clientId: 'sleeper', clean: false });
    await first.subscribe('o', 1);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('o', 'm1', { qos: 1, messageId: 1 });
    await pub.next('puback');
    await first.nextPublish(); // in flight, never acknowledged
    await drop(b, first, 'sleeper');
    for (let i = 2; i <= 4; i++) {
      pub.publish('o', `m${i}`, { qos: 1, messageId: i });
      await pub.next('puback');
    }
    // m1 in flight + m2 queued reach the limit of 2: m3 and m4 are dropped.
    expect(b.lines).toContain('Outgoing messages are being dropped for client sleeper.');
    const { c } = await reconnect(b, 'sleeper', false);
    const got: [string, boolean][] = [];
    for (let i = 0; i < 2; i++) {
      const m = await c.nextPublish();
      got.push([String(m.payload), m.dup]);
      c.send({ cmd: 'puback', messageId: m.messageId });
    }
    expect(got).toEqual([
      ['m1', true],
      ['m2', false],
    ]);
    expect(publishes(await c.sync())).toEqual([]);
  });

  it('queue QoS 0 messages too with queue_qos0_messages', async () => {
    const b = await startBroker({ queueQos0Messages: true });
    const first = await b.connect({ clientId: 'q0', clean: false });
    await first.subscribe('z', 0);
    await drop(b, first, 'q0');
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('z', 'kept at qos 0');
    await pub.sync();
    const { c } = await reconnect(b, 'q0', false);
    const m = await c.nextPublish();
    expect([String(m.payload), m.qos]).toEqual(['kept at qos 0', 0]);
  });

  it('redeliver unacknowledged QoS 1 with DUP set and the same packet id (MQTT-4.4.0-1)', async () => {
    const b = await startBroker();
    const first = await b.connect({ clientId: 'flaky', clean: false });
    await first.subscribe('d', 1);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('d', 'unacked', { qos: 1, messageId: 1 });
    const original = await first.nextPublish();
    expect(original.dup).toBe(false);
    await drop(b, first, 'flaky');
    const { c, present } = await reconnect(b, 'flaky', false);
    expect(present).toBe(true);
    const again = await c.nextPublish();
    expect([again.dup, again.messageId, String(again.payload), again.qos]).toEqual([true, original.messageId, 'unacked', 1]);
    expect(b.lines).toContain(`Sending PUBLISH to flaky (d1, q1, r0, m${original.messageId}, 'd', ... (7 bytes))`);
    c.send({ cmd: 'puback', messageId: again.messageId });
    await c.sync();
    expect(b.broker.sessions.get('flaky')!.inflight.size).toBe(0);
  });

  it('resume an outgoing QoS 2 flow: PUBLISH again with DUP before PUBREC, PUBREL after it', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 'q2', clean: false });
    await sub.subscribe('two', 2);
    const pub = await b.connect({ clientId: 'pub' });
    for (const [mid, text] of [[1, 'a'], [2, 'b']] as const) {
      pub.publish('two', text, { qos: 2, messageId: mid });
      await pub.next('pubrec');
      pub.send({ cmd: 'pubrel', messageId: mid });
      await pub.next('pubcomp');
    }
    const a = await sub.nextPublish();
    const bMsg = await sub.nextPublish();
    sub.send({ cmd: 'pubrec', messageId: a.messageId }); // 'a' is received, 'b' is not
    await sub.next('pubrel');
    await drop(b, sub, 'q2');
    const { c } = await reconnect(b, 'q2', false);
    const resumed = await c.sync();
    const rel = resumed.find((p) => p.cmd === 'pubrel');
    const pubs = publishes(resumed);
    expect(rel?.messageId).toBe(a.messageId);
    expect(pubs.map((p) => [String(p.payload), p.dup, p.messageId])).toEqual([['b', true, bMsg.messageId]]);
  });

  it('keep an inbound QoS 2 message across a reconnect: PUBREL after it delivers once', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('in', 2);
    const first = await b.connect({ clientId: 'sender', clean: false });
    first.publish('in', 'held', { qos: 2, messageId: 11 });
    await first.next('pubrec');
    await drop(b, first, 'sender');
    const { c } = await reconnect(b, 'sender', false);
    // The client resends the PUBLISH with DUP (allowed) and then PUBREL.
    c.publish('in', 'held', { qos: 2, messageId: 11, dup: true });
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: 11 });
    await c.next('pubcomp');
    c.publish('in', 'marker');
    expect([await watch.nextPublish(), await watch.nextPublish()].map((p) => String(p.payload))).toEqual(['held', 'marker']);
  });
});

describe('clean sessions', () => {
  it('clean session 1 discards the stored session: no session present, no subscriptions, no queue', async () => {
    const b = await startBroker();
    const first = await b.connect({ clientId: 'cs', clean: false });
    await first.subscribe('cs/#', 1);
    await drop(b, first, 'cs');
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('cs/1', 'queued', { qos: 1, messageId: 1 });
    await pub.next('puback');

    const { c, present } = await reconnect(b, 'cs', true);
    expect(present).toBe(false);
    pub.publish('cs/2', 'live', { qos: 1, messageId: 2 });
    await pub.next('puback');
    expect(publishes(await c.sync())).toEqual([]);
    c.disconnect();
    await b.waitForLine('Client cs disconnected.');
    // The clean session is gone too: a persistent reconnect starts afresh.
    const again = await reconnect(b, 'cs', false);
    expect(again.present).toBe(false);
  });

  it('a clean session is removed at disconnect', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'temp', clean: true });
    await c.subscribe('t', 1);
    c.disconnect();
    await b.waitForLine('Client temp disconnected.');
    expect(b.broker.sessions.has('temp')).toBe(false);
    expect(b.broker.router.count).toBe(0);
    const { present } = await reconnect(b, 'temp', false);
    expect(present).toBe(false);
  });

  it('a first persistent connect has no session present', async () => {
    const b = await startBroker();
    const { present } = await reconnect(b, 'brand-new', false);
    expect(present).toBe(false);
  });
});
