/**
 * MQTT 5 features of the broker, with raw packets: properties passed through, will delay,
 * retained expiry, subscription options and identifiers, shared subscriptions, topic
 * aliases, flow control, enhanced-auth refusal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IConnackPacket, IConnectPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { startBroker, stopBrokers, openRaw, type TestBroker } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(stopBrokers);

async function connect5(
  tb: TestBroker,
  clientId: string,
  extra: Partial<IConnectPacket> = {},
): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await openRaw(tb.port);
  c.setVersion(5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 60, ...extra } as IConnectPacket);
  const connack = await c.next<IConnackPacket>('connack');
  return { c, connack };
}

function pub(c: RawClient, topic: string, payload: string, qos: 0 | 1 | 2 = 0, properties?: IPublishPacket['properties'], retain = false, messageId = 1): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false, messageId: qos > 0 ? messageId : undefined, properties } as IPublishPacket);
}

async function sub(c: RawClient, subscriptions: { topic: string; qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }[], messageId = 1, properties?: { subscriptionIdentifier?: number }): Promise<ISubackPacket> {
  c.send({ cmd: 'subscribe', messageId, subscriptions, properties } as never);
  return c.waitFor<ISubackPacket>((p) => p.cmd === 'suback' && p.messageId === messageId);
}

describe('MQTT 5 broker', () => {
  it('passes user properties, content type, response topic and correlation data through in order', async () => {
    const tb = await startBroker();
    const { c: s } = await connect5(tb, 's');
    await sub(s, [{ topic: 'req', qos: 0 }]);
    const { c: p } = await connect5(tb, 'p');
    const props = {
      userProperties: { a: '1', b: ['2', '3'] },
      contentType: 'text/plain',
      responseTopic: 'resp/x',
      correlationData: Buffer.from('corr'),
      payloadFormatIndicator: true,
    };
    pub(p, 'req', 'hi', 0, props);
    const m = await s.nextPublish();
    expect(m.properties?.userProperties).toEqual({ a: '1', b: ['2', '3'] });
    expect(m.properties?.contentType).toBe('text/plain');
    expect(m.properties?.responseTopic).toBe('resp/x');
    expect(Buffer.from(m.properties!.correlationData!).toString()).toBe('corr');
    expect(m.properties?.payloadFormatIndicator).toBe(true);
  });

  it('assigns a client identifier to an empty one and says so in CONNACK', async () => {
    const tb = await startBroker();
    const { connack } = await connect5(tb, '');
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.assignedClientIdentifier).toMatch(/^auto-[0-9A-F-]{36}$/);
  });

  it('refuses an authentication method it has no authenticator for with 0x8C', async () => {
    const tb = await startBroker();
    const { c, connack } = await connect5(tb, 'x', { properties: { authenticationMethod: 'SCRAM-SHA-1' } });
    expect(connack.reasonCode).toBe(0x8c);
    await c.closed;
  });

  it('delays the will by its will delay interval and drops it when the client returns in time', async () => {
    const tb = await startBroker();
    const { c: watcher } = await connect5(tb, 'watcher');
    await sub(watcher, [{ topic: 'will/#', qos: 0 }]);
    const will = { topic: 'will/a', payload: Buffer.from('gone'), qos: 0 as const, retain: false, properties: { willDelayInterval: 1 } };
    const sessionProps = { sessionExpiryInterval: 60 };
    // Returns before the delay: no will.
    const first = await connect5(tb, 'w1', { clean: false, will, properties: sessionProps });
    first.c.destroy();
    await first.c.closed;
    await connect5(tb, 'w1', { clean: false, properties: sessionProps });
    // Does not return: the will arrives after about a second, not at once.
    const second = await connect5(tb, 'w2', { clean: false, will: { ...will, topic: 'will/b' }, properties: sessionProps });
    const t0 = Date.now();
    second.c.destroy();
    const m = await watcher.nextPublish(4000);
    expect(m.topic).toBe('will/b');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const rest = await watcher.sync();
    expect(rest.filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('keeps a delayed will for its delay even when the session ends at disconnect (expiry 0), as Mosquitto', async () => {
    const tb = await startBroker();
    const { c: watcher } = await connect5(tb, 'watcher');
    await sub(watcher, [{ topic: 'will/#', qos: 0 }]);
    const { c } = await connect5(tb, 'w', {
      will: { topic: 'will/later', payload: Buffer.from('x'), qos: 0, retain: false, properties: { willDelayInterval: 1 } },
    });
    c.destroy();
    await tb.waitForLine('Client w closed its connection.');
    // Not at once: the session (expiry 0) waits for the will's delay.
    expect((await watcher.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
    const m = await watcher.nextPublish(4000);
    expect(m.topic).toBe('will/later');
  });

  it('drops a delayed will when the client id connects again, with clean start or without session, as Mosquitto', async () => {
    const tb = await startBroker();
    const { c: watcher } = await connect5(tb, 'watcher');
    await sub(watcher, [{ topic: 'will/#', qos: 0 }]);
    const will = { topic: 'will/x', payload: Buffer.from('x'), qos: 0 as const, retain: false, properties: { willDelayInterval: 1 } };
    // Session expiry 30, back with clean start: the will is not sent (nor at the session's end).
    const a = await connect5(tb, 'a', { will, properties: { sessionExpiryInterval: 30 } });
    a.c.destroy();
    await tb.waitForLine('Client a closed its connection.');
    const a2 = await connect5(tb, 'a', { clean: true });
    expect(a2.connack.sessionPresent).toBe(false);
    // Session expiry 0, back with clean start false: no will, and no session to resume.
    const b = await connect5(tb, 'b', { clean: false, will });
    b.c.destroy();
    await tb.waitForLine('Client b closed its connection.');
    const b2 = await connect5(tb, 'b', { clean: false });
    expect(b2.connack.sessionPresent).toBe(false);
    await new Promise((r) => setTimeout(r, 2200));
    expect((await watcher.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('counts message expiry down and stops delivering an expired retained message', async () => {
    const tb = await startBroker();
    const { c: p } = await connect5(tb, 'p');
    pub(p, 'exp/a', 'soon', 1, { messageExpiryInterval: 1 }, true);
    pub(p, 'exp/b', 'later', 1, { messageExpiryInterval: 100 }, true, 2);
    await p.sync();
    const { c: s1 } = await connect5(tb, 's1');
    await sub(s1, [{ topic: 'exp/#', qos: 0 }]);
    const got = [await s1.nextPublish(), await s1.nextPublish()].sort((a, b) => a.topic.localeCompare(b.topic));
    expect(got.map((m) => m.topic)).toEqual(['exp/a', 'exp/b']);
    expect(got[1].properties?.messageExpiryInterval).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 1100));
    const { c: s2 } = await connect5(tb, 's2');
    await sub(s2, [{ topic: 'exp/#', qos: 0 }]);
    const m = await s2.nextPublish();
    expect(m.topic).toBe('exp/b');
    const rest = await s2.sync();
    expect(rest.filter((x) => x.cmd === 'publish')).toEqual([]);
  });

  it('honours no local, retain as published and retain handling', async () => {
    const tb = await startBroker();
    const { c } = await connect5(tb, 'me');
    pub(c, 'rh/x', 'kept', 0, undefined, true);
    await c.sync();
    const ack = await sub(c, [
      { topic: 'nl/#', qos: 0, nl: true },
      { topic: 'rap/#', qos: 0, rap: true },
      { topic: 'rh/#', qos: 0, rh: 2 },
    ]);
    expect(ack.granted).toEqual([0, 0, 0]);
    const early = await c.sync();
    expect(early.filter((p) => p.cmd === 'publish')).toEqual([]); // rh 2: no retained on subscribe
    pub(c, 'nl/a', 'mine');
    pub(c, 'rap/a', 'flagged', 0, undefined, true);
    const got = (await c.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(got.map((m) => [m.topic, m.retain])).toEqual([['rap/a', true]]);
    // retain handling 1: retained only for a new subscription.
    await sub(c, [{ topic: 'rh/#', qos: 0, rh: 1 }], 2);
    expect((await c.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
    await sub(c, [{ topic: 'rh/+', qos: 0, rh: 1 }], 3);
    const again = (await c.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(again.map((m) => m.topic)).toEqual(['rh/x']);
  });

  it('sends the subscription identifier with matching messages', async () => {
    const tb = await startBroker();
    const { c } = await connect5(tb, 'ids');
    await sub(c, [{ topic: 'id/#', qos: 0 }], 1, { subscriptionIdentifier: 7 });
    await sub(c, [{ topic: 'id/+', qos: 0 }], 2, { subscriptionIdentifier: 9 });
    pub(c, 'id/a', 'x');
    const m = await c.nextPublish();
    const ids = m.properties?.subscriptionIdentifier;
    expect((Array.isArray(ids) ? ids : [ids]).sort()).toEqual([7, 9]);
  });

  it('gives each message of a shared subscription to one member of the group', async () => {
    const tb = await startBroker();
    const { c: a } = await connect5(tb, 'a');
    const { c: b } = await connect5(tb, 'b');
    await sub(a, [{ topic: '$share/g/work/#', qos: 1 }]);
    await sub(b, [{ topic: '$share/g/work/#', qos: 1 }]);
    const { c: p } = await connect5(tb, 'p');
    for (let i = 1; i <= 10; i++) pub(p, 'work/j', String(i), 0);
    await p.sync();
    const ga = (await a.sync()).filter((x) => x.cmd === 'publish') as IPublishPacket[];
    const gb = (await b.sync()).filter((x) => x.cmd === 'publish') as IPublishPacket[];
    expect(ga.length + gb.length).toBe(10);
    expect(ga.length).toBeGreaterThan(0);
    expect(gb.length).toBeGreaterThan(0);
    const all = [...ga, ...gb].map((m) => Number(String(m.payload))).sort((x, y) => x - y);
    expect(all).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('resolves topic aliases from the client and refuses an unknown one', async () => {
    const tb = await startBroker();
    const { c: s } = await connect5(tb, 's');
    await sub(s, [{ topic: 'alias/#', qos: 0 }]);
    const { c: p } = await connect5(tb, 'p');
    pub(p, 'alias/long/topic', 'one', 0, { topicAlias: 3 });
    pub(p, '', 'two', 0, { topicAlias: 3 });
    const m1 = await s.nextPublish();
    const m2 = await s.nextPublish();
    expect([m1.topic, m2.topic]).toEqual(['alias/long/topic', 'alias/long/topic']);
    expect(String(m2.payload)).toBe('two');
    pub(p, '', 'three', 0, { topicAlias: 4 });
    const d = await p.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x82);
  });

  it("limits messages in flight to the client's receive maximum", async () => {
    const tb = await startBroker();
    const { c: s } = await connect5(tb, 's', { properties: { receiveMaximum: 2 } });
    await sub(s, [{ topic: 'rm', qos: 1 }]);
    const { c: p } = await connect5(tb, 'p');
    for (let i = 1; i <= 5; i++) pub(p, 'rm', String(i), 1, undefined, false, i);
    await p.sync();
    await new Promise((r) => setTimeout(r, 100));
    const first = (await s.sync()).filter((x) => x.cmd === 'publish') as IPublishPacket[];
    expect(first.map((m) => String(m.payload))).toEqual(['1', '2']);
    s.send({ cmd: 'puback', messageId: first[0].messageId, reasonCode: 0 } as never);
    const next = await s.nextPublish();
    expect(String(next.payload)).toBe('3');
  });

  it("never sends a packet larger than the client's maximum packet size", async () => {
    const tb = await startBroker();
    const { c: s } = await connect5(tb, 's', { properties: { maximumPacketSize: 64 } });
    await sub(s, [{ topic: 'mps', qos: 0 }]);
    const { c: p } = await connect5(tb, 'p');
    pub(p, 'mps', 'x'.repeat(200));
    pub(p, 'mps', 'small');
    const m = await s.nextPublish();
    expect(String(m.payload)).toBe('small');
  });

  it('refuses a payload that claims UTF-8 and is not (0x99)', async () => {
    const tb = await startBroker();
    const { c } = await connect5(tb, 'pf');
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from([0xff, 0xfe]), qos: 1, retain: false, dup: false, messageId: 5, properties: { payloadFormatIndicator: true } } as IPublishPacket);
    const ack = await c.next('puback');
    expect((ack as { reasonCode?: number }).reasonCode).toBe(0x99);
  });

  it('sends DISCONNECT 0x8E to a client whose session is taken over', async () => {
    const tb = await startBroker();
    const { c: old } = await connect5(tb, 'dup');
    await connect5(tb, 'dup');
    const d = await old.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x8e);
  });

  it('keeps a session for its expiry interval and lets DISCONNECT change it', async () => {
    const tb = await startBroker();
    const { c } = await connect5(tb, 'exp', { clean: true, properties: { sessionExpiryInterval: 1 } });
    await sub(c, [{ topic: 'se', qos: 1 }]);
    c.destroy();
    await c.closed;
    const back = await connect5(tb, 'exp', { clean: false, properties: { sessionExpiryInterval: 1 } });
    expect(back.connack.sessionPresent).toBe(true);
    back.c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } as never);
    await back.c.closed;
    const again = await connect5(tb, 'exp', { clean: false, properties: { sessionExpiryInterval: 1 } });
    expect(again.connack.sessionPresent).toBe(false);
    again.c.destroy();
    await again.c.closed;
    await new Promise((r) => setTimeout(r, 2300));
    const late = await connect5(tb, 'exp', { clean: false });
    expect(late.connack.sessionPresent).toBe(false);
  });

  it('uses topic aliases towards a client that allows them', async () => {
    const tb = await startBroker();
    const { c: s } = await connect5(tb, 's', { properties: { topicAliasMaximum: 1 } });
    await sub(s, [{ topic: 'ta/#', qos: 0 }]);
    const { c: p } = await connect5(tb, 'p');
    pub(p, 'ta/first', '1');
    pub(p, 'ta/first', '2');
    pub(p, 'ta/second', '3');
    const got = [await s.nextPublish(), await s.nextPublish(), await s.nextPublish()];
    expect(got.map((m) => [m.topic, m.properties?.topicAlias])).toEqual([
      ['ta/first', 1],
      ['', 1],
      ['ta/second', undefined], // the only alias is taken
    ]);
  });

  it('hands the unacknowledged messages of a shared member that leaves to another member', async () => {
    const tb = await startBroker();
    const { c: a } = await connect5(tb, 'a', { properties: { receiveMaximum: 1 } });
    await sub(a, [{ topic: '$share/g/job', qos: 1 }]);
    const { c: p } = await connect5(tb, 'p');
    pub(p, 'job', 'one', 1, undefined, false, 1);
    pub(p, 'job', 'two', 1, undefined, false, 2);
    await p.sync();
    const first = await a.nextPublish();
    expect(String(first.payload)).toBe('one');
    const { c: b } = await connect5(tb, 'b');
    await sub(b, [{ topic: '$share/g/job', qos: 1 }]);
    a.destroy(); // clean session: it ends with 'one' unacknowledged and 'two' queued
    const handed = [await b.nextPublish(), await b.nextPublish()].map((m) => String(m.payload)).sort();
    expect(handed).toEqual(['one', 'two']);
  });

  it('runs an enhanced authentication exchange with AUTH packets, and re-authentication', async () => {
    const tb = await startBroker();
    tb.broker.enhancedAuth = {
      methods: ['TOKEN'],
      async step(_method, data, state) {
        if (state.step === 0) return { done: false, data: Buffer.from('challenge') };
        return { done: true, ok: String(data) === 'secret', data: Buffer.from('welcome') };
      },
    };
    const c = await openRaw(tb.port);
    c.setVersion(5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ea', clean: true, keepalive: 60, properties: { authenticationMethod: 'TOKEN' } } as IConnectPacket);
    const challenge = await c.next('auth');
    expect((challenge as { reasonCode: number }).reasonCode).toBe(0x18);
    expect(String((challenge as { properties: { authenticationData: Buffer } }).properties.authenticationData)).toBe('challenge');
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('secret') } } as never);
    const connack = await c.next<IConnackPacket>('connack');
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.authenticationMethod).toBe('TOKEN');
    expect(String(connack.properties?.authenticationData)).toBe('welcome');
    // Re-authentication with a wrong answer ends the connection with 0x87.
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN' } } as never);
    await c.next('auth');
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('wrong') } } as never);
    const d = await c.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x87);
  });

  it('refuses a failed enhanced authentication in CONNACK', async () => {
    const tb = await startBroker();
    tb.broker.enhancedAuth = { methods: ['TOKEN'], step: async () => ({ done: true, ok: false }) };
    const { connack } = await connect5(tb, 'eb', { properties: { authenticationMethod: 'TOKEN' } });
    expect(connack.reasonCode).toBe(0x87);
  });

  it('says 0x8B server shutting down to MQTT 5 clients when it closes', async () => {
    const tb = await startBroker();
    const { c } = await connect5(tb, 'bye');
    const closing = tb.broker.close();
    const d = await c.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x8b);
    c.destroy();
    await closing;
  });

  it('re-encodes a 3.1.1 QoS 0 PUBLISH for an MQTT 5 subscriber and passes it on as is to a 3.1.1 one', async () => {
    const tb = await startBroker();
    const { c: v5 } = await connect5(tb, 'v5');
    await sub(v5, [{ topic: 'mix/#', qos: 0 }]);
    const v4 = await tb.connect({ clientId: 'v4' });
    await v4.subscribe('mix/#', 0);
    const p = await tb.connect({ clientId: 'p4' });
    p.publish('mix/a', 'same bytes');
    const m5 = await v5.nextPublish();
    const m4 = await v4.nextPublish();
    expect([m5.topic, String(m5.payload), m5.retain]).toEqual(['mix/a', 'same bytes', false]);
    expect([m4.topic, String(m4.payload), m4.retain]).toEqual(['mix/a', 'same bytes', false]);
  });
});
