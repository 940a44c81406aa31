/**
 * SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK (MQTT-3.8 to 3.11), overlapping subscriptions,
 * and the $-topic rule for leading wildcards (MQTT-4.7.2-1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket, IUnsubackPacket, Packet } from 'mqtt-packet';
import { startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

const payloads = (ps: { cmd: string }[]): string[] =>
  ps.filter((p) => p.cmd === 'publish').map((p) => String((p as IPublishPacket).payload));

describe('SUBSCRIBE', () => {
  it('grants the requested QoS per filter, in order (MQTT-3.9.3-1)', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    const suback = await c.subscribe(
      [
        { topic: 'a/b', qos: 1 },
        { topic: 'c/+', qos: 2 },
        { topic: 'd/#', qos: 0 },
      ],
      0,
      77,
    );
    expect(suback.messageId).toBe(77);
    expect(suback.granted).toEqual([1, 2, 0]);
    expect(b.lines).toContain('Received SUBSCRIBE from subber');
    expect(b.lines).toContain('\ta/b (QoS 1)');
    expect(b.lines).toContain('subber 1 a/b');
    expect(b.lines).toContain('subber 2 c/+');
    expect(b.lines).toContain('Sending SUBACK to subber');
  });

  it('an invalid filter ends the connection as a malformed packet, no SUBACK (as Mosquitto; issue 14 replaces the 0x80 of issue 2)', async () => {
    const b = await startBroker();
    for (const [i, bad] of ['a/#/b', 'x+', '/'.repeat(201), 'a\u0000b'].entries()) {
      for (const version of [4, 5] as const) {
        const c = await b.connect({ clientId: `subber${i}-${version}`, version });
        c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ok/+', qos: 1 }, { topic: bad, qos: 0 }] } as Packet);
        await c.closed;
        const got = c.inbox.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]);
        // MQTT 5: DISCONNECT 0x81 Malformed Packet; 3.1.1: the connection just closes.
        expect(got).toEqual(version === 5 ? [['disconnect', 0x81]] : []);
      }
    }
    expect(b.hasLine('Invalid subscription string from 127.0.0.1, disconnecting.')).toBe(true);
    expect(b.hasLine('Client subber0-4 disconnected due to malformed packet.')).toBe(true);
    // 200 levels deep is still a filter.
    const deep = await b.connect({ clientId: 'deep' });
    expect((await deep.subscribe('/'.repeat(200), 0)).granted).toEqual([0]);
  });

  it('SUBSCRIBE or UNSUBSCRIBE with packet id 0 ends the connection as a malformed packet (v5 0x81), as Mosquitto', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'zero', version: 5 });
    c.socket.write(Buffer.from([0x82, 0x07, 0, 0, 0, 0, 1, 0x61, 0]));
    await c.closed;
    expect(c.inbox.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode])).toEqual([['disconnect', 0x81]]);
    const u = await b.connect({ clientId: 'unsub-zero', version: 5 });
    u.socket.write(Buffer.from([0xa2, 0x06, 0, 0, 0, 0, 1, 0x61]));
    await u.closed;
    expect(u.inbox.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode])).toEqual([['disconnect', 0x81]]);
  });

  it('a repeated subscription replaces the QoS, not duplicates (MQTT-3.8.4-3)', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    await c.subscribe('r', 2);
    await c.subscribe('r', 0, 2);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('r', 'once', { qos: 2, messageId: 5 });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 5 });
    await pub.next('pubcomp');
    pub.publish('r', 'marker');
    const first = await c.nextPublish();
    expect([String(first.payload), first.qos]).toEqual(['once', 0]);
    expect(String((await c.nextPublish()).payload)).toBe('marker');
    expect(b.broker.router.count).toBe(1);
  });

  it('a SUBSCRIBE requesting QoS 3 is malformed and closes the connection', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'bad' });
    c.sendRaw([0x82, 6, 0, 1, 0, 1, 0x61, 3]);
    await c.closed;
    await b.waitForLine('Client bad disconnected due to malformed packet.');
  });
});

describe('overlapping subscriptions', () => {
  it('deliver a matching message once, at the highest granted QoS', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    await c.subscribe([
      { topic: 'sport/#', qos: 0 },
      { topic: 'sport/+/score', qos: 2 },
      { topic: 'sport/tennis/score', qos: 1 },
      { topic: '#', qos: 0 },
    ]);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('sport/tennis/score', '15-0', { qos: 2, messageId: 1 });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 1 });
    await pub.next('pubcomp');
    pub.publish('sport/tennis/score', 'marker');
    const m = await c.nextPublish();
    expect([String(m.payload), m.qos]).toEqual(['15-0', 2]);
    expect(String((await c.nextPublish()).payload)).toBe('marker');
    c.send({ cmd: 'pubrec', messageId: m.messageId });
    const rest = await c.sync();
    expect(payloads(rest)).toEqual([]);
  });

  it('two clients on the same filter each get a copy', async () => {
    const b = await startBroker();
    const one = await b.connect({ clientId: 'one' });
    const two = await b.connect({ clientId: 'two' });
    await one.subscribe('f', 0);
    await two.subscribe('f', 1);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('f', 'fan', { qos: 1 });
    expect((await one.nextPublish()).qos).toBe(0);
    expect((await two.nextPublish()).qos).toBe(1);
  });
});

describe('UNSUBSCRIBE', () => {
  it('removes the subscription and answers UNSUBACK with the same id', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    await c.subscribe([
      { topic: 'u/1', qos: 0 },
      { topic: 'u/2', qos: 0 },
    ]);
    c.send({ cmd: 'unsubscribe', messageId: 31, unsubscriptions: ['u/1'] });
    const unsuback = await c.next<IUnsubackPacket>('unsuback');
    expect(unsuback.messageId).toBe(31);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('u/1', 'gone');
    pub.publish('u/2', 'still');
    expect(String((await c.nextPublish()).payload)).toBe('still');
    expect(payloads(await c.sync())).toEqual([]);
    expect(b.lines).toContain('Received UNSUBSCRIBE from subber');
    expect(b.lines).toContain('\tu/1');
    expect(b.lines).toContain('subber u/1');
    expect(b.lines).toContain('Sending UNSUBACK to subber');
  });

  it('answers UNSUBACK for a filter that was never subscribed (MQTT-3.10.4-5)', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    c.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['never/was'] });
    expect((await c.next<IUnsubackPacket>('unsuback')).messageId).toBe(4);
    // Mosquitto logs the unsubscribe line all the same.
    expect(b.lines).toContain('subber never/was');
  });

  it('matches the filter string exactly, not by wildcard', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'subber' });
    await c.subscribe('w/+', 0);
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['w/x'] });
    await c.next('unsuback');
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('w/x', 'kept');
    expect(String((await c.nextPublish()).payload)).toBe('kept');
  });
});

describe('$ topics (MQTT-4.7.2-1)', () => {
  it('are not matched by a leading wildcard, but are by an explicit $ filter', async () => {
    const b = await startBroker();
    const hash = await b.connect({ clientId: 'hash' });
    await hash.subscribe([
      { topic: '#', qos: 0 },
      { topic: '+/bar', qos: 0 },
      { topic: '+/+/bar', qos: 0 },
    ]);
    const dollar = await b.connect({ clientId: 'dollar' });
    await dollar.subscribe([
      { topic: '$foo/#', qos: 0 },
      { topic: '$SYS/+/bar', qos: 0 },
    ]);
    b.broker.publishInternal('$foo/bar', 'd1', 0, false);
    b.broker.publishInternal('$SYS/x/bar', 'd2', 0, false);
    b.broker.publishInternal('plain/bar', 'p', 0, false);
    expect(payloads(await dollar.sync())).toEqual(['d1', 'd2']);
    expect(payloads(await hash.sync())).toEqual(['p']);
  });

  it('clients cannot publish into $SYS: the message is acknowledged and dropped', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 'sys' });
    await sub.subscribe('$SYS/#', 0);
    const pub = await b.connect({ clientId: 'sysp' });
    pub.publish('$SYS/broker/uptime', 'fake', { qos: 1, messageId: 5 });
    expect((await pub.next('puback')).messageId).toBe(5);
    pub.publish('$SYS/fake', 'retained fake', { qos: 0, retain: true });
    expect(payloads(await sub.sync())).toEqual([]);
    expect(b.broker.retained.get('$SYS/fake')).toBeUndefined();
    expect(b.lines).toContain("Denied PUBLISH from sysp (d0, q1, r0, m5, '$SYS/broker/uptime', ... (4 bytes))");
    // Mosquitto logs the refusal reason (135, not authorised) even to a 3.1.1 client.
    expect(b.lines).toContain('Sending PUBACK to sysp (m5, rc135)');
    expect(pub.isClosed).toBe(false);
  });

  it('other $ topics may be published by clients, as in Mosquitto', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 's' });
    await sub.subscribe('$foo/#', 1);
    const pub = await b.connect({ clientId: 'p' });
    pub.publish('$foo/bar', 'x', { qos: 1, messageId: 3 });
    await pub.next('puback');
    const m = await sub.nextPublish();
    expect([m.topic, String(m.payload)]).toEqual(['$foo/bar', 'x']);
    expect(b.lines).toContain('Sending PUBACK to p (m3, rc0)');
  });
});
