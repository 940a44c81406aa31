/**
 * Retained messages (MQTT-3.3.1-5 to 3.3.1-11): stored, sent on subscribe with the retain
 * flag set (wildcards too), live copies with it clear, an empty payload deletes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

const summary = (ps: { cmd: string }[]): [string, string, number, boolean][] =>
  (ps.filter((p) => p.cmd === 'publish') as IPublishPacket[]).map((p) => [p.topic, String(p.payload), p.qos, p.retain]);

describe('retained messages', () => {
  it('are stored and sent to a later subscriber with retain set, after the SUBACK', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('r/a', 'kept', { qos: 1, retain: true, messageId: 1 });
    await pub.next('puback');
    const sub = await b.connect({ clientId: 'sub' });
    sub.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'r/a', qos: 1 }] });
    expect((await sub.next()).cmd).toBe('suback');
    const m = await sub.next<IPublishPacket>('publish');
    expect([m.topic, String(m.payload), m.qos, m.retain, m.dup]).toEqual(['r/a', 'kept', 1, true, false]);
    expect(b.lines).toContain("Sending PUBLISH to sub (d0, q1, r1, m1, 'r/a', ... (4 bytes))");
  });

  it('are sent for wildcard subscriptions, each matching topic once', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    for (const t of ['w', 'w/1', 'w/2', 'w/2/deep', 'other/1']) pub.publish(t, `v-${t}`, { retain: true });
    await pub.sync();
    const plus = await b.connect({ clientId: 'plus' });
    await plus.subscribe('w/+', 0);
    expect(summary(await plus.sync()).sort()).toEqual([
      ['w/1', 'v-w/1', 0, true],
      ['w/2', 'v-w/2', 0, true],
    ]);
    const hash = await b.connect({ clientId: 'hash' });
    await hash.subscribe('w/#', 0);
    expect(summary(await hash.sync()).map((s) => s[0]).sort()).toEqual(['w', 'w/1', 'w/2', 'w/2/deep']);
    const all = await b.connect({ clientId: 'all' });
    await all.subscribe('#', 0);
    expect(summary(await all.sync())).toHaveLength(5);
  });

  it('go to existing subscribers as live copies with retain clear (MQTT-3.3.1-9)', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('live', 1);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('live', 'now', { qos: 1, retain: true, messageId: 2 });
    const m = await sub.nextPublish();
    expect([String(m.payload), m.retain]).toEqual(['now', false]);
    // ... while a new subscription still gets the stored copy with retain set.
    const late = await b.connect({ clientId: 'late' });
    await late.subscribe('live', 1);
    expect((await late.nextPublish()).retain).toBe(true);
  });

  it('are delivered at the lower of the stored and the subscription QoS', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('q/two', 'x', { qos: 2, retain: true, messageId: 1 });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 1 });
    await pub.next('pubcomp');
    pub.publish('q/zero', 'y', { qos: 0, retain: true });
    await pub.sync();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('q/two', 1);
    expect((await sub.nextPublish()).qos).toBe(1);
    await sub.subscribe('q/zero', 2, 2);
    expect((await sub.nextPublish()).qos).toBe(0);
  });

  it('a newer retained message replaces the stored one', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('rep', 'old', { retain: true });
    pub.publish('rep', 'new', { retain: true });
    pub.publish('rep', 'not retained');
    await pub.sync();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('rep', 0);
    expect(summary(await sub.sync())).toEqual([['rep', 'new', 0, true]]);
  });

  it('an empty retained payload deletes the stored message and is passed on live (MQTT-3.3.1-10/11)', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('del/me', 'soon gone', { retain: true });
    await pub.sync();
    const live = await b.connect({ clientId: 'live' });
    await live.subscribe('del/#', 0);
    expect(summary(await live.sync())).toEqual([['del/me', 'soon gone', 0, true]]);
    pub.publish('del/me', '', { retain: true });
    await pub.sync();
    expect(summary(await live.sync())).toEqual([['del/me', '', 0, false]]);
    expect(b.broker.retained.count).toBe(0);
    const late = await b.connect({ clientId: 'late' });
    await late.subscribe('del/#', 0);
    expect(summary(await late.sync())).toEqual([]);
  });

  it('are sent again when a subscription is repeated (MQTT-3.8.4-3)', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('again', 'r', { retain: true });
    await pub.sync();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('again', 0);
    await sub.subscribe('again', 0, 2);
    expect(summary(await sub.sync())).toEqual([
      ['again', 'r', 0, true],
      ['again', 'r', 0, true],
    ]);
  });

  it('retained $ topics are not sent to a leading wildcard subscription', async () => {
    const b = await startBroker();
    b.broker.publishInternal('$SYS/broker/test', 'sys', 0, true);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('visible', 'v', { retain: true });
    await pub.sync();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('#', 0);
    expect(summary(await sub.sync())).toEqual([['visible', 'v', 0, true]]);
    await sub.subscribe('$SYS/#', 0, 2);
    expect(summary(await sub.sync())).toEqual([['$SYS/broker/test', 'sys', 0, true]]);
  });
});
