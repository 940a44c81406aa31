/**
 * PUBLISH from a client (MQTT-3.3): topic checks, topic aliases, ACL, then routing.
 * QoS 0 and 1 are routed at once (PUBACK after routing); QoS 2 is held until PUBREL so
 * that a re-sent PUBLISH with the same packet id is never delivered twice (MQTT-4.3.3).
 */
import { isValidMqttString, isValidTopicName, ReasonCode, type PublishPacket, type QoS } from '../../protocol/index.js';
import { LogType } from '../log.js';
import { Message } from '../message.js';
import { publishLogLine } from '../publish-log.js';
import { sendAck, sendErrorDisconnect } from '../send/packets.js';
import { levelsOverLimit } from './subscribe.js';
import { ackHeld, ackInOrder } from './ack-hold.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handlePublish(broker: BrokerCore, client: ClientContext, packet: PublishPacket): void {
  // messages/received and bytes/received count every packet and byte (net/connection.ts).
  broker.stats.publishReceived++;
  const payload = packet.payload as Buffer;
  broker.stats.publishBytesReceived += payload.length;
  const qos = packet.qos as QoS;
  broker.stats.publishReceivedByQos[qos]++;
  broker.stats.publishBytesReceivedByQos[qos] += payload.length;
  const mid = packet.messageId ?? 0;
  let topic = packet.topic;
  let props = packet.properties;

  if (qos > (client.listener.settings.maxQos ?? 2)) {
    // max_qos: a PUBLISH above the listener's Maximum QoS (MQTT-3.2.2-11). Mosquitto drops
    // the connection (v5 first hears 0x9B QoS not supported) and logs its generic socket line.
    broker.log.info(`Too high QoS in PUBLISH from ${client.id}, disconnecting.`);
    if (client.protocolVersion === 5) sendErrorDisconnect(client, ReasonCode.QoSNotSupported);
    if (broker.log.connectionMessages) broker.log.notice(`Bad socket read/write on client ${client.id}: Requested QoS not supported on server.`);
    client.cause = 'admin';
    client.close();
    return;
  }

  if (client.protocolVersion === 5 && props !== undefined) {
    if (props.subscriptionIdentifier !== undefined) {
      // MQTT-3.3.4-6: a PUBLISH from a client carries no subscription identifier.
      client.protocolError(ReasonCode.ProtocolError);
      return;
    }
    const alias = props.topicAlias;
    if (alias !== undefined) {
      // MQTT-3.3.2-8/9: alias 0 or above our maximum is a protocol error.
      if (alias === 0) {
        // Mosquitto 2.0.11 treats this one as a malformed packet: its log line and 0x81.
        client.protocolError(ReasonCode.MalformedPacket);
        client.cause = 'malformed';
        return;
      }
      if (alias > broker.options.maxTopicAlias) {
        // Mosquitto 2.0.11 ends it with an error code its disconnect line has no words for:
        // its generic socket line, after the DISCONNECT (0x94).
        if (client.protocolVersion === 5) sendErrorDisconnect(client, ReasonCode.TopicAliasInvalid);
        if (broker.log.connectionMessages) broker.log.notice(`Bad socket read/write on client ${client.id}: Unknown error.`);
        client.cause = 'admin';
        client.close();
        return;
      }
      const aliases = (client.topicAliases ??= new Map());
      if (topic.length > 0) aliases.set(alias, topic);
      else {
        const known = aliases.get(alias);
        if (known === undefined) {
          client.protocolError(ReasonCode.ProtocolError);
          return;
        }
        topic = known;
      }
      const { topicAlias: _drop, ...rest } = props;
      props = Object.keys(rest).length > 0 ? rest : undefined;
    }
    if (props !== undefined && props.payloadFormatIndicator === true && !isUtf8(payload)) {
      // MQTT-3.3.2-4 / 5.4.9: the payload claims UTF-8 but is not.
      sendPublishAck(client, qos, mid, ReasonCode.PayloadFormatInvalid);
      return;
    }
  }

  if (!isValidTopicName(topic) || levelsOverLimit(topic)) {
    // As Mosquitto: invalid UTF-8 (MQTT-1.5.3-1) or no topic is a malformed packet (v5 0x81); wildcards
    // (MQTT-3.3.2-2) or more than 200 levels a protocol error (0x82).
    const malformed = !isValidMqttString(topic) || topic.length === 0;
    client.cause = malformed ? 'malformed' : 'protocol';
    if (client.protocolVersion === 5) sendErrorDisconnect(client, malformed ? ReasonCode.MalformedPacket : ReasonCode.ProtocolError);
    client.close();
    return;
  }
  if (qos > 0 && mid === 0) {
    client.protocolError();
    return;
  }

  const retain = packet.retain;
  if (retain && !broker.options.retainAvailable) {
    // retain_available false: Mosquitto drops the connection (v5 first hears 0x9A Retain
    // not supported, MQTT-3.3.1-4 / 3.2.2.3.5) and logs its generic socket line.
    if (client.protocolVersion === 5) sendErrorDisconnect(client, ReasonCode.RetainNotSupported);
    if (broker.log.connectionMessages) broker.log.notice(`Bad socket read/write on client ${client.id}: Unknown error.`);
    client.cause = 'admin';
    client.close();
    return;
  }
  const memoryLimit = broker.options.memoryLimit;
  if (memoryLimit > 0 && broker.memoryInUse() + payload.length > memoryLimit) {
    // memory_limit (mosquitto.conf(5)): an incoming message over the limit is dropped and
    // its publisher disconnected, with no DISCONNECT packet, as Mosquitto.
    broker.stats.publishDropped++;
    broker.stats.droppedMemoryLimit++;
    if (broker.log.connectionMessages) broker.log.notice(`Client ${client.id} disconnected due to out of memory.`);
    client.cause = 'admin';
    client.close();
    return;
  }
  const limit = broker.options.messageSizeLimit;
  if (limit > 0 && payload.length > limit) {
    // message_size_limit: dropped, but acknowledged (0x95 for v5) so the client moves on.
    if (broker.log.enabled(LogType.Debug)) {
      broker.log.debug(publishLogLine('Dropped too large PUBLISH from', client.id, packet.dup, qos, retain, mid, topic, payload.length));
    }
    broker.stats.publishDropped++;
    broker.stats.droppedTooLarge++;
    sendPublishAck(client, qos, mid, ReasonCode.PacketTooLarge, 'Payload larger than message_size_limit');
    return;
  }

  const mount = client.mountPoint;
  const fullTopic = mount !== undefined ? mount + topic : topic;
  if (
    isReservedForBroker(fullTopic) ||
    !mayWrite(broker, client, fullTopic)
  ) {
    // Clients cannot publish into $SYS (nor $share); denied messages are acked and dropped.
    if (broker.log.enabled(LogType.Debug)) {
      broker.log.debug(publishLogLine('Denied PUBLISH from', client.id, packet.dup, qos, retain, mid, topic, payload.length));
    }
    broker.stats.droppedAcl++;
    sendPublishAck(client, qos, mid, ReasonCode.NotAuthorized, 'Not authorized to publish to this topic');
    return;
  }
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(publishLogLine('Received PUBLISH from', client.id, packet.dup, qos, retain, mid, topic, payload.length));
  }
  const msg = new Message(
    fullTopic,
    payload,
    qos,
    retain,
    props,
    client.clientId,
    client.username,
  );
  if (retain) msg.fromPort = client.listener.listener?.port ?? client.listener.settings.port;
  // MQTT 5: the publisher's property bytes go on as they came (user properties in order).
  if (packet.storedProperties !== undefined) msg.setStoredProperties(packet.storedProperties);
  const frame = packet.frame;
  if (frame !== undefined && mount === undefined) msg.setWireForm(client.protocolVersion, frame);
  if (qos === 2) {
    const session = client.session!;
    let wait: Promise<unknown> | undefined;
    if (!session.incoming.has(mid)) {
      const max = broker.options.maxInflightMessages;
      if (client.protocolVersion === 5 && max > 0 && session.incomingCount >= max) {
        // MQTT-3.3.4-8: more unacknowledged QoS 2 than our Receive Maximum.
        client.protocolError(ReasonCode.ReceiveMaximumExceeded);
        return;
      }
      session.incoming.set(mid, msg);
      if (broker.persistHooks.length > 0) broker.notifyIncoming(session, mid, msg);
      wait = received(broker, msg);
    }
    if (wait === undefined && !ackHeld()) sendPublishAck(client, 2, mid, 0);
    else ackInOrder(client, wait, () => sendPublishAck(client, 2, mid, 0));
    return;
  }
  const matched = broker.publish(msg, client.clientId);
  // MQTT 5 (3.4.2.1): 0x10 No matching subscribers, as Mosquitto sends on a PUBACK (and
  // logs as rc16; rc0 for 3.1/3.1.1). A QoS 2 PUBREC goes out before the message is routed
  // (at PUBREL), so it says 0 (Success).
  if (qos === 1) {
    const reason = matched || client.protocolVersion !== 5 ? 0 : ReasonCode.NoMatchingSubscribers;
    const wait = broker.ackWait;
    if (wait === undefined && !ackHeld()) sendPublishAck(client, 1, mid, reason);
    else ackInOrder(client, wait, () => sendPublishAck(client, 1, mid, reason));
  }
}

/** Tells the plugins a QoS 2 message arrived; what its PUBREC must wait for (the cluster's Redis write). */
function received(broker: BrokerCore, msg: Message): Promise<unknown> | undefined {
  broker.ackWait = undefined;
  const plugins = broker.plugins;
  for (let i = 0; i < plugins.length; i++) plugins[i].onQos2Received?.(msg);
  const wait = broker.ackWait;
  broker.ackWait = undefined;
  return wait;
}

/**
 * Mosquitto refuses client writes to topics beginning "$SYS" or "$share" and allows other
 * $ topics (they are only hidden from leading wildcards, MQTT-4.7.2-1).
 */
function isReservedForBroker(topic: string): boolean {
  if (topic.charCodeAt(0) !== 0x24 /* $ */) return false;
  if (topic.startsWith('$share')) return true;
  // Bridges publish their state at $SYS/broker/connection/<id>/state: Mosquitto lets any
  // client write a topic matching $SYS/broker/connection/+/state and no other $SYS topic.
  return topic.startsWith('$SYS') && !isBridgeStateTopic(topic);
}

function isBridgeStateTopic(topic: string): boolean {
  const prefix = '$SYS/broker/connection/';
  if (!topic.startsWith(prefix) || !topic.endsWith('/state')) return false;
  const id = topic.slice(prefix.length, topic.length - '/state'.length);
  return !id.includes('/');
}

function mayWrite(broker: BrokerCore, client: ClientContext, topic: string): boolean {
  const a = client.listener.settings.authorizer ?? broker.options.authorizer;
  return a === undefined || a.canWrite(client.clientId, client.username, topic);
}

/** PUBACK for QoS 1, PUBREC for QoS 2, nothing for QoS 0. v3 has no reason codes, so a refusal looks like success. */
function sendPublishAck(client: ClientContext, qos: QoS, mid: number, reason: number, reasonString?: string): void {
  if (qos === 0) return;
  const log = client.broker.log;
  const type = qos === 1 ? 'puback' : 'pubrec';
  // Mosquitto's log line carries the reason even when a v3 client cannot be told it.
  if (log.enabled(LogType.Debug)) log.debug(`Sending ${type.toUpperCase()} to ${client.id} (m${mid}, rc${reason})`);
  sendAck(client, type, mid, client.protocolVersion === 5 ? reason : 0, reasonString);
}

function isUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}
