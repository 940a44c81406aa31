/**
 * Persistence across restarts with in-process brokers: a clean stop (snapshot), and the
 * files copied right after the acknowledgements while the broker runs, which is what a
 * kill -9 at that moment leaves (the journal only). Also damaged files, and saving.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.js';
import { publishQos1, publishQos2, receiveAll } from './helpers/persist-flows.js';
import { cleanupPersistent, crashCopy, startPersistent, stopBroker, tempDir } from './helpers/persist-broker.js';

afterEach(cleanupPersistent);

const v5clients: RawClient[] = [];
afterEach(() => {
  for (const c of v5clients.splice(0)) c.destroy();
});

/** An MQTT 5 CONNECT with a session expiry interval (RawClient.connect has no properties). */
async function connectV5(port: number, clientId: string, clean: boolean, expiry: number): Promise<{ client: RawClient; connack: IConnackPacket }> {
  const client = await RawClient.open(port);
  v5clients.push(client);
  client.setVersion(5);
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 60, properties: { sessionExpiryInterval: expiry } });
  const connack = await client.next<IConnackPacket>('connack');
  return { client, connack };
}

const payloads = (got: IPublishPacket[]): string[] => [...new Set(got.map((p) => String(p.payload)))].sort();

describe('persistence: restart', () => {
  it('keeps subscriptions, queued QoS 1/2 messages and retained messages across a clean stop', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: sub } = await b1.connect({ clientId: 'sub', clean: false });
    await sub.subscribe('a/#', 2);
    sub.disconnect();
    await sub.closed;
    const { client: pub } = await b1.connect({ clientId: 'pub' });
    for (let i = 1; i <= 5; i++) await publishQos1(pub, 'a/one', `q1-${i}`, i);
    for (let i = 6; i <= 10; i++) await publishQos2(pub, 'a/two', `q2-${i}`, i);
    for (let i = 11; i <= 13; i++) await publishQos1(pub, `r/${i}`, `ret-${i}`, i, true);
    // When the client went away: session expiry (persistent_client_expiration) counts from it.
    const wentAway = b1.broker.sessions.get('sub')!.disconnectedAt;
    expect(wentAway).toBeGreaterThan(0);
    await stopBroker(b1);
    expect(b1.lines).toContain(`Saving in-memory database to ${dir}/mosquitto.db.`);

    const b2 = await startPersistent(dir);
    expect(b2.broker.sessions.get('sub')!.disconnectedAt).toBe(wentAway);
    const { client: back, sessionPresent } = await b2.connect({ clientId: 'sub', clean: false });
    expect(sessionPresent).toBe(true);
    const got = await receiveAll(back, 10);
    expect(payloads(got)).toEqual([...[1, 2, 3, 4, 5].map((i) => `q1-${i}`), ...[10, 6, 7, 8, 9].map((i) => `q2-${i}`)].sort());
    expect(got.filter((p) => p.topic === 'a/two').every((p) => p.qos === 2)).toBe(true);
    // The subscription itself survived: a new message is routed to it.
    const { client: pub2 } = await b2.connect({ clientId: 'pub2' });
    await publishQos1(pub2, 'a/new', 'fresh', 1);
    expect(String((await back.nextPublish()).payload)).toBe('fresh');
    const { client: reader } = await b2.connect({ clientId: 'reader' });
    await reader.subscribe('r/#', 1);
    const retained = await receiveAll(reader, 3);
    expect(payloads(retained)).toEqual(['ret-11', 'ret-12', 'ret-13']);
    expect(retained.every((p) => p.retain)).toBe(true);
  });

  it('restores from the journal alone what was acknowledged, as kill -9 leaves it', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: off } = await b1.connect({ clientId: 'offline', clean: false });
    await off.subscribe('j/#', 1);
    off.disconnect();
    await off.closed;
    // An online subscriber that never acknowledges: its messages stay in flight.
    const { client: on } = await b1.connect({ clientId: 'online', clean: false });
    await on.subscribe('j/#', 2);
    const { client: pub } = await b1.connect({ clientId: 'pub' });
    for (let i = 1; i <= 30; i++) await publishQos1(pub, 'j/x', `m${i}`, i);
    await publishQos1(pub, 'keep/me', 'retained', 31, true);
    const snapshotBytes = fs.statSync(path.join(dir, 'mosquitto.db')).size;
    const copy = crashCopy(dir);
    // Nothing of this went through a snapshot: it is all in the journal.
    expect(fs.statSync(path.join(copy, 'mosquitto.db')).size).toBe(snapshotBytes);
    expect(fs.statSync(path.join(copy, 'mosquitto.db.journal')).size).toBeGreaterThan(30 * 10);

    const b2 = await startPersistent(copy);
    const { client: off2, sessionPresent } = await b2.connect({ clientId: 'offline', clean: false });
    expect(sessionPresent).toBe(true);
    expect(payloads(await receiveAll(off2, 30))).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`).sort());
    const { client: on2 } = await b2.connect({ clientId: 'online', clean: false });
    const again = await receiveAll(on2, 30);
    expect(payloads(again)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`).sort());
    // The first 20 (the inflight window) were in flight: re-sent with DUP and their packet ids.
    const dups = again.filter((p) => p.dup);
    expect(dups.length).toBe(20);
    expect(new Set(dups.map((p) => p.messageId)).size).toBe(20);
    const { client: reader } = await b2.connect({ clientId: 'reader' });
    await reader.subscribe('keep/#', 0);
    const r = await reader.nextPublish();
    expect([r.topic, String(r.payload), r.retain]).toEqual(['keep/me', 'retained', true]);
  });

  it('keeps a QoS 2 message received but not yet released; PUBREL after the restart delivers it once', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: sub } = await b1.connect({ clientId: 'sub', clean: false });
    await sub.subscribe('q2/#', 2);
    sub.disconnect();
    await sub.closed;
    const { client: pub } = await b1.connect({ clientId: 'pub', clean: false });
    await publishQos2(pub, 'q2/t', 'exactly-once', 77, false);
    const copy = crashCopy(dir);

    const b2 = await startPersistent(copy);
    const { client: pub2, sessionPresent } = await b2.connect({ clientId: 'pub', clean: false });
    expect(sessionPresent).toBe(true);
    pub2.send({ cmd: 'pubrel', messageId: 77 });
    await pub2.waitFor((p) => p.cmd === 'pubcomp' && p.messageId === 77);
    // A second PUBREL finds nothing to release (no second copy).
    pub2.send({ cmd: 'pubrel', messageId: 77 });
    await pub2.waitFor((p) => p.cmd === 'pubcomp' && p.messageId === 77);
    const { client: sub2 } = await b2.connect({ clientId: 'sub', clean: false });
    const got = await receiveAll(sub2, 1);
    expect(got.map((p) => String(p.payload))).toEqual(['exactly-once']);
  });

  it('journals unsubscribes, ended sessions and deleted retained messages', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: s } = await b1.connect({ clientId: 's', clean: false });
    await s.subscribe([{ topic: 'keep/#', qos: 1 }, { topic: 'drop/#', qos: 1 }]);
    s.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['drop/#'] });
    await s.waitFor((p) => p.cmd === 'unsuback');
    s.disconnect();
    await s.closed;
    const { client: ended } = await b1.connect({ clientId: 'ended', clean: false });
    await ended.subscribe('x', 1);
    ended.disconnect();
    await ended.closed;
    // Coming back with a clean session ends the persistent one.
    const { client: endedClean } = await b1.connect({ clientId: 'ended', clean: true });
    endedClean.disconnect();
    await endedClean.closed;
    const { client: pub } = await b1.connect({ clientId: 'pub' });
    await publishQos1(pub, 'r/gone', 'soon deleted', 1, true);
    await publishQos1(pub, 'r/gone', '', 2, true);
    await publishQos1(pub, 'r/stays', 'here', 3, true);
    const copy = crashCopy(dir);

    const b2 = await startPersistent(copy);
    expect([...b2.broker.sessions.keys()].sort()).toEqual(['s']);
    expect([...b2.broker.sessions.get('s')!.subscriptions.keys()]).toEqual(['keep/#']);
    expect(b2.broker.retained.all().map((m) => m.topic)).toEqual(['r/stays']);
    const { sessionPresent } = await b2.connect({ clientId: 'ended', clean: false });
    expect(sessionPresent).toBe(false);
  });

  it('keeps MQTT 5 properties, session expiry and message expiry', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: s5 } = await connectV5(b1.port, 'v5', true, 3600);
    s5.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p/#', qos: 1, nl: false, rap: false, rh: 0 }], properties: { subscriptionIdentifier: 9 } });
    await s5.waitFor((p) => p.cmd === 'suback');
    s5.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/grp/sh/#', qos: 1, nl: false, rap: false, rh: 0 }] });
    await s5.waitFor((p) => p.cmd === 'suback' && p.messageId === 2);
    s5.send({ cmd: 'disconnect' });
    await s5.closed;
    const { client: pub } = await connectV5(b1.port, 'pub5', true, 0);
    pub.send({
      cmd: 'publish', topic: 'p/t', payload: Buffer.from('props'), qos: 1, messageId: 1, retain: false, dup: false,
      properties: { userProperties: { k: 'v' }, correlationData: Buffer.from([1, 2, 3]), contentType: 'text/x', messageExpiryInterval: 3600 },
    });
    await pub.waitFor((p) => p.cmd === 'puback');
    const copy = crashCopy(dir);

    const b2 = await startPersistent(copy);
    expect(b2.broker.sessions.get('v5')!.expiryInterval).toBe(3600);
    const { client: back, connack } = await connectV5(b2.port, 'v5', false, 3600);
    expect(connack.sessionPresent).toBe(true);
    const p = await back.nextPublish();
    expect(String(p.payload)).toBe('props');
    expect(p.properties?.userProperties).toEqual({ k: 'v' });
    expect(p.properties?.correlationData).toEqual(Buffer.from([1, 2, 3]));
    expect(p.properties?.contentType).toBe('text/x');
    expect(p.properties?.subscriptionIdentifier).toBe(9);
    expect(p.properties?.messageExpiryInterval).toBeGreaterThan(3500);
    expect(p.properties?.messageExpiryInterval).toBeLessThanOrEqual(3600);
    // The shared subscription came back into its group.
    const { client: pub2 } = await connectV5(b2.port, 'pub5b', true, 0);
    pub2.send({ cmd: 'publish', topic: 'sh/x', payload: Buffer.from('shared'), qos: 1, messageId: 1, retain: false, dup: false });
    await pub2.waitFor((q) => q.cmd === 'puback');
    const shared = await back.nextPublish();
    expect([shared.topic, String(shared.payload)]).toEqual(['sh/x', 'shared']);
  });
});
