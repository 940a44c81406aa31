/**
 * SUBSCRIBE (MQTT-3.8): validate each filter, check the ACL, add to the tree, SUBACK with
 * the granted QoS per filter, then the retained messages that match (MQTT-3.3.1-6).
 */
import {
  isValidMqttString,
  isValidTopicFilter,
  parseSharedFilter,
  ReasonCode,
  type QoS,
  type SubscribePacket,
} from '../../protocol/index.js';
import { LogType } from '../log.js';
import { sendSuback } from '../send/packets.js';
import type { SubscriptionOptions } from '../router.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handleSubscribe(broker: BrokerCore, client: ClientContext, packet: SubscribePacket): void {
  const log = broker.log;
  const session = client.session!;
  const v5 = client.protocolVersion === 5;
  if (log.enabled(LogType.Debug)) log.debug(`Received SUBSCRIBE from ${client.id}`);
  const mid = packet.messageId ?? 0;
  const subs = packet.subscriptions;
  if (mid === 0) {
    // MQTT-2.2.1-3: a SUBSCRIBE needs a non-zero packet id; Mosquitto: malformed (v5 0x81).
    client.disconnect('malformed', ReasonCode.MalformedPacket);
    return;
  }
  if (subs.length === 0) {
    // MQTT-3.8.3-3: at least one filter; Mosquitto treats an empty payload as malformed.
    client.disconnect('malformed', ReasonCode.MalformedPacket);
    return;
  }
  if (v5 && packet.properties !== undefined && !validSubscribeProperties(packet.properties)) {
    // MQTT 5 3.8.2.1: only a Subscription Identifier (1 to 268,435,455) and User
    // Properties; Mosquitto: malformed (DISCONNECT 0x81), no SUBACK.
    client.disconnect('malformed', ReasonCode.MalformedPacket);
    return;
  }
  const identifier = v5 ? (packet.properties?.subscriptionIdentifier ?? 0) : 0;
  const granted: number[] = [];
  const retainedToSend: { filter: string; qos: QoS; options: SubscriptionOptions; isNew: boolean }[] = [];
  const authorizer = client.listener.settings.authorizer ?? broker.options.authorizer;
  const maxQos = client.listener.settings.maxQos ?? 2;
  const mount = client.mountPoint ?? '';
  for (const sub of subs) {
    const requested = sub.qos as QoS;
    if (!isValidTopicFilter(sub.topic) || levelsOverLimit(sub.topic)) {
      // As Mosquitto: an invalid filter (MQTT-4.7.1, invalid UTF-8, more than 200 levels
      // deep) ends the connection as a malformed packet (v5 DISCONNECT 0x81), no SUBACK.
      // Mosquitto refuses invalid UTF-8 while reading the string, before this line.
      if (sub.topic.length > 0 && isValidMqttString(sub.topic)) log.info(`Invalid subscription string from ${client.address}, disconnecting.`);
      client.disconnect('malformed', ReasonCode.MalformedPacket);
      return;
    }
    if (log.enabled(LogType.Debug)) log.debug(`\t${sub.topic} (QoS ${requested})`);
    const shared = v5 ? parseSharedFilter(sub.topic) : null;
    const filter = shared !== null ? shared.filter : sub.topic;
    const groupOk = shared === null || (shared.group.length > 0 && !/[+#]/.test(shared.group));
    if (!groupOk || !isValidTopicFilter(filter) || (shared !== null && sub.nl === true)) {
      // MQTT-4.8.2-2: no local on a shared subscription is a protocol error in v5; treat as invalid filter.
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : 0x80);
      continue;
    }
    const treeFilter = mount + filter;
    if (authorizer !== undefined && !authorizer.canSubscribe(client.clientId, client.username, treeFilter)) {
      granted.push(v5 ? ReasonCode.NotAuthorized : 0x80);
      continue;
    }
    const qos = (requested > maxQos ? maxQos : requested) as QoS;
    const options: SubscriptionOptions = {
      qos,
      // A 3.1.1 bridge (try_private) cannot ask for these; Mosquitto gives them to it.
      noLocal: sub.nl === true || client.isBridge,
      retainAsPublished: sub.rap === true || client.isBridge,
      retainHandling: sub.rh ?? 0,
      identifier,
    };
    const existed = broker.addSubscription(session, treeFilter, options, shared?.group);
    session.subscriptions.set(sub.topic, { filter: sub.topic, treeFilter, shareGroup: shared?.group, options });
    if (log.enabled(LogType.Subscribe)) log.write(LogType.Subscribe, `${client.id} ${qos} ${sub.topic}`);
    for (const p of broker.plugins) p.onSubscribe?.(session, sub.topic, options);
    granted.push(qos);
    if (shared === null) retainedToSend.push({ filter: treeFilter, qos, options, isNew: !existed });
  }
  sendSuback(client, mid, granted);
  for (const r of retainedToSend) {
    // MQTT 5 retain handling: 0 always, 1 only for a new subscription, 2 never.
    if (r.options.retainHandling === 2 || (r.options.retainHandling === 1 && !r.isNew)) continue;
    broker.messages.deliverRetained(client, r.filter, r.qos);
  }
}

/** SUBSCRIBE properties: a Subscription Identifier that is not 0, and User Properties; nothing else. */
function validSubscribeProperties(props: object): boolean {
  for (const [key, value] of Object.entries(props)) {
    if (key === 'userProperties' || value === undefined) continue;
    if (key !== 'subscriptionIdentifier' || value === 0 || Array.isArray(value)) return false;
  }
  return true;
}

/** Mosquitto refuses topics more than 200 levels deep (over 200 separators). */
export function levelsOverLimit(topic: string): boolean {
  if (topic.length <= 200) return false;
  let n = 0;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f && ++n > 200) return true;
  return false;
}
