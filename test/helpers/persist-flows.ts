/**
 * MQTT flows the persistence tests repeat: publish at QoS 1/2 and wait for the broker's
 * acknowledgement, and receive messages as a subscriber, acknowledging each.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { RawClient } from './raw-client.js';

/** QoS 1: PUBLISH, wait for PUBACK. */
export async function publishQos1(c: RawClient, topic: string, payload: string, mid: number, retain = false): Promise<void> {
  c.publish(topic, payload, { qos: 1, messageId: mid, retain });
  await c.waitFor((p) => p.cmd === 'puback' && p.messageId === mid, 3000, `puback ${mid}`);
}

/** QoS 2: PUBLISH, wait for PUBREC; with `complete`, PUBREL and wait for PUBCOMP. */
export async function publishQos2(c: RawClient, topic: string, payload: string, mid: number, complete = true): Promise<void> {
  c.publish(topic, payload, { qos: 2, messageId: mid });
  await c.waitFor((p) => p.cmd === 'pubrec' && p.messageId === mid, 3000, `pubrec ${mid}`);
  if (!complete) return;
  c.send({ cmd: 'pubrel', messageId: mid });
  await c.waitFor((p) => p.cmd === 'pubcomp' && p.messageId === mid, 3000, `pubcomp ${mid}`);
}

/**
 * Receives PUBLISHes until `count` distinct payloads arrived (or none for `quietMs`),
 * acknowledging each (PUBACK, or PUBREC then PUBCOMP on PUBREL). Returns every PUBLISH.
 */
export async function receiveAll(c: RawClient, count: number, timeoutMs = 5000): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  const distinct = new Set<string>();
  while (distinct.size < count) {
    const p: Packet = await c.waitFor((q) => q.cmd === 'publish' || q.cmd === 'pubrel', timeoutMs, `publish ${distinct.size + 1} of ${count}`);
    if (p.cmd === 'pubrel') {
      c.send({ cmd: 'pubcomp', messageId: p.messageId });
      continue;
    }
    const pub = p as IPublishPacket;
    got.push(pub);
    distinct.add(`${pub.topic} ${String(pub.payload)}`);
    if (pub.qos === 1) c.send({ cmd: 'puback', messageId: pub.messageId });
    else if (pub.qos === 2) c.send({ cmd: 'pubrec', messageId: pub.messageId });
  }
  // What arrived meanwhile: acknowledge it too, and answer the PUBRELs of the last QoS 2 flows.
  for (const p of await c.sync()) {
    if (p.cmd === 'pubrel') c.send({ cmd: 'pubcomp', messageId: p.messageId });
    else if (p.cmd === 'publish') {
      got.push(p);
      if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
      else if (p.qos === 2) c.send({ cmd: 'pubrec', messageId: p.messageId });
    }
  }
  return got;
}
