/**
 * Packet ids of messages that wait in a session's queue, as Mosquitto 2.0.11 numbers them:
 * a QoS 1/2 message gets its id as it is queued, before the queue limits are checked, so
 * one dropped by max_queued_messages uses its id up and the next message's id follows it
 * (expiry in the queue: broker-packet-ids.test.ts); a queued message goes in flight under
 * the id it was given. In-process broker, raw clients, ephemeral ports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(async () => {
  await stopBrokers();
});

async function publishAcked(pub: RawClient, payload: string, mid: number): Promise<void> {
  pub.publish('t', payload, { qos: 1, messageId: mid });
  await pub.waitFor((p) => p.cmd === 'puback' && p.messageId === mid, 3000, `puback ${mid}`);
}

async function received(c: RawClient): Promise<[string, number]> {
  const p = await c.nextPublish();
  c.send({ cmd: 'puback', messageId: p.messageId });
  return [String(p.payload), p.messageId ?? 0];
}

describe('packet ids of queued messages', () => {
  it('a message dropped by max_queued_messages uses its id up', async () => {
    const b = await startBroker({ maxQueuedMessages: 1 });
    const sub = await b.connect({ clientId: 's1', clean: false });
    await sub.subscribe('t', 1);
    sub.destroy();
    await b.waitForLine(/^Client s1 closed its connection/);
    const pub = await b.connect({ clientId: 'p' });
    for (const [i, m] of ['a', 'b', 'c'].entries()) await publishAcked(pub, m, i + 1);
    const again = await b.connect({ clientId: 's1', clean: false });
    expect(await received(again)).toEqual(['a', 1]);
    await publishAcked(pub, 'd', 4);
    // b and c were numbered 2 and 3 as they were dropped.
    expect(await received(again)).toEqual(['d', 4]);
  });

  it('messages queued behind a full inflight window go out under the ids they were queued with, in order', async () => {
    const b = await startBroker({ maxInflightMessages: 1 });
    const sub = await b.connect({ clientId: 's1' });
    await sub.subscribe('t', 1);
    const pub = await b.connect({ clientId: 'p' });
    for (const [i, m] of ['a', 'b', 'c'].entries()) await publishAcked(pub, m, i + 1);
    expect([await received(sub), await received(sub), await received(sub)]).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });
});
