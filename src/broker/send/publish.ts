/**
 * The sending side of PUBLISH (Mosquitto's send_publish): per subscriber, the encoded
 * packet (reused across subscribers where it can be, DESIGN.md "The hot path"), the
 * per-hop MQTT 5 properties, the client's Maximum Packet Size, the debug line and the
 * counters. Hot path: no closures, no promises, log lines formatted only when enabled.
 */
import { withMessageId, encodePublish, encodePublishV5, encodeProperty, publishIdOffset, type QoS } from '../../protocol/index.js';
import type { BrokerCore, ClientContext } from '../core.js';
import { LogType } from '../log.js';
import type { Message } from '../message.js';
import { publishLogLine } from '../publish-log.js';
import { overMaximumPacketSize } from './packets.js';

function subscriptionIdentifierBytes(identifiers: number[]): Buffer {
  if (identifiers.length === 1) return encodeProperty('subscriptionIdentifier', identifiers[0]);
  return Buffer.concat(identifiers.map((id) => encodeProperty('subscriptionIdentifier', id)));
}

export function sendPublish(
  broker: BrokerCore,
  client: ClientContext,
  msg: Message,
  qos: QoS,
  retain: boolean,
  mid: number,
  dup: boolean,
  identifiers: number[] | undefined,
): void {
  const version = client.protocolVersion;
  let buf: Buffer;
  let topic = msg.topic;
  const mount = client.mountPoint;
  if (mount !== undefined) {
    // mount_point is stripped on the way out.
    topic = topic.startsWith(mount) ? topic.slice(mount.length) : topic;
  }
  let newAlias = 0;
  if (
    version === 5 &&
    (identifiers !== undefined || msg.expiresAt !== 0 || mount !== undefined || client.topicAliasMaxOut > 0)
  ) {
    // The publisher's properties as they came (MQTT-3.3.2-18: user properties in order),
    // with the per-hop ones around them where Mosquitto puts them: subscription
    // identifiers first (MQTT-3.3.4-3), then expiry and topic alias.
    const before = identifiers !== undefined ? subscriptionIdentifierBytes(identifiers) : undefined;
    let after: Buffer | undefined;
    if (msg.expiresAt !== 0) {
      // MQTT-3.3.2-6: the expiry sent on is what is left of it.
      after = encodeProperty('messageExpiryInterval', Math.max(0, Math.ceil((msg.expiresAt - Date.now()) / 1000)));
    }
    let wireTopic = topic;
    if (client.topicAliasMaxOut > 0) {
      // Server-to-client topic aliases (MQTT 5, 3.3.2.3.4): the first PUBLISH on a topic
      // sets an alias, later ones send an empty topic name with the alias.
      const aliases = (client.outAliases ??= new Map<string, number>());
      const known = aliases.get(topic);
      let alias = 0;
      if (known !== undefined) {
        alias = known;
        wireTopic = '';
      } else if (aliases.size < client.topicAliasMaxOut) {
        newAlias = aliases.size + 1;
        alias = newAlias;
      }
      if (alias > 0) {
        const a = encodeProperty('topicAlias', alias);
        after = after === undefined ? a : Buffer.concat([after, a]);
      }
    }
    buf = encodePublishV5(wireTopic, msg.payload, qos, retain, dup, mid, msg.storedProperties(), before, after);
  } else if (mount !== undefined) {
    buf = encodePublish(topic, msg.payload, qos, retain, dup, mid, version);
  } else {
    buf = msg.encode(version, qos, retain);
    if (qos > 0) buf = withMessageId(buf, publishIdOffset(buf), mid, dup);
  }
  if (overMaximumPacketSize(client, buf.length)) {
    // MQTT-3.1.2-25: not sent to a client whose Maximum Packet Size it exceeds (as Mosquitto
    // measures it). Its packet id stays taken until the session ends, as in Mosquitto.
    broker.stats.publishDropped++;
    broker.stats.droppedTooLarge++;
    return;
  }
  if (newAlias > 0) client.outAliases!.set(topic, newAlias);
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(publishLogLine('Sending PUBLISH to', client.id, dup, qos, retain, mid, topic, msg.payload.length));
  }
  client.conn.write(buf);
  const hooks = broker.deliveredHooks;
  for (let i = 0; i < hooks.length; i++) hooks[i].onDelivered!(client.session!, msg, qos);
  const stats = broker.stats;
  stats.publishSent++;
  stats.publishBytesSent += msg.payload.length;
  stats.publishSentByQos[qos]++;
  stats.publishBytesSentByQos[qos] += msg.payload.length;
}
