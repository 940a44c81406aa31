/**
 * Packet ids towards a subscriber, as Mosquitto numbers them: a QoS 1/2 message gets its
 * packet id when it is queued for the session, not when it goes out, so one that expires
 * in the queue leaves a gap (Mosquitto's 02-subpub-qos1-message-expiry and
 * 11-message-expiry compare the ids), across a restart too; and the numbering of a
 * persistent session goes on after a restart (11-persistent-subscription-no-local).
 */
import type { IConnackPacket, IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers, openRaw } from './helpers/broker.js';
import { cleanupPersistent, startPersistent, stopBroker, tempDir } from './helpers/persist-broker.js';
import type { RawClient } from './helpers/raw-client.js';

const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await stopBrokers();
  await cleanupPersistent();
});

async function connect5(port: number, clientId: string, extra: Partial<IConnectPacket> = {}): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await openRaw(port);
  clients.push(c);
  c.setVersion(5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 60, ...extra } as IConnectPacket);
  return { c, connack: await c.next<IConnackPacket>('connack') };
}

/** The subscriber's session with a QoS 1 subscription, left offline; two messages queued for it, the first expiring in 1 s. */
async function queueTwo(port: number): Promise<void> {
  const { c: sub } = await connect5(port, 'sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'exp/#', qos: 1 }] } as never);
  await sub.next('suback');
  sub.destroy();
  await sub.closed;
  const { c: pub } = await connect5(port, 'pub');
  const props = [{ messageExpiryInterval: 1 }, { messageExpiryInterval: 100 }];
  for (let i = 0; i < 2; i++) {
    pub.send({ cmd: 'publish', topic: 'exp/a', payload: Buffer.from(`m${i + 1}`), qos: 1, retain: false, dup: false, messageId: i + 1, properties: props[i] } as IPublishPacket);
    await pub.next('puback');
  }
}

describe('packet ids towards a subscriber', () => {
  it('are given when a message is queued: one that expired in the queue leaves a gap, as Mosquitto', async () => {
    const b = await startBroker();
    await queueTwo(b.port);
    await new Promise((r) => setTimeout(r, 1500));
    const { c: back, connack } = await connect5(b.port, 'sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(connack.sessionPresent).toBe(true);
    const m = await back.nextPublish();
    expect([String(m.payload), m.messageId]).toEqual(['m2', 2]);
    expect((await back.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('of queued messages survive a restart', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    await queueTwo(b1.port);
    await stopBroker(b1);
    await new Promise((r) => setTimeout(r, 1200));
    const b2 = await startPersistent(dir);
    const { c: back } = await connect5(b2.port, 'sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    const m = await back.nextPublish();
    expect([String(m.payload), m.messageId]).toEqual(['m2', 2]);
  });

  it('of a persistent session go on after a restart, where they stopped', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { c: sub } = await connect5(b1.port, 'sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ids/#', qos: 1 }] } as never);
    await sub.next('suback');
    sub.send({ cmd: 'publish', topic: 'ids/a', payload: Buffer.from('one'), qos: 1, retain: false, dup: false, messageId: 7 } as IPublishPacket);
    const first = await sub.nextPublish();
    expect(first.messageId).toBe(1);
    sub.send({ cmd: 'puback', messageId: 1 } as never);
    await sub.sync();
    await stopBroker(b1);
    const b2 = await startPersistent(dir);
    const { c: back } = await connect5(b2.port, 'sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    back.send({ cmd: 'publish', topic: 'ids/a', payload: Buffer.from('two'), qos: 1, retain: false, dup: false, messageId: 8 } as IPublishPacket);
    const second = await back.nextPublish();
    expect([String(second.payload), second.messageId]).toEqual(['two', 2]);
  });
});
