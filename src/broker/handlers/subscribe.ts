/**
 * SUBSCRIBE (MQTT-3.8): validate each filter, check the ACL, add to the tree, SUBACK with
 * the granted QoS per filter, then the retained messages that match (MQTT-3.3.1-6).
 */
import {
  isValidTopicFilter,
  parseSharedFilter,
  ReasonCode,
  serverReasonString,
  type QoS,
  type SubscribePacket,
} from '../../protocol/index.js';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';
import { deliverToSession } from '../deliver.js';
import { LogType } from '../log.js';
import type { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';

export function handleSubscribe(broker: Broker, client: Client, packet: SubscribePacket): void {
  const log = broker.log;
  const session = client.session!;
  const v5 = client.protocolVersion === 5;
  if (log.enabled(LogType.Debug)) log.debug(`Received SUBSCRIBE from ${client.id}`);
  const mid = packet.messageId ?? 0;
  const subs = packet.subscriptions;
  if (subs.length === 0) {
    // MQTT-3.8.3-3: at least one filter; Mosquitto treats an empty payload as malformed.
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
  if (log.enabled(LogType.Debug)) log.debug(`Sending SUBACK to ${client.id}`);
  if (v5) {
    // Refused filters: why, in a Reason String (3.9.2.1.2) where the client may get one.
    client.sendWithReasonString({ cmd: 'suback', messageId: mid, granted }, failureReasonString(granted));
  } else {
    client.conn.send({ cmd: 'suback', messageId: mid, granted });
  }
  for (const r of retainedToSend) {
    // MQTT 5 retain handling: 0 always, 1 only for a new subscription, 2 never.
    if (r.options.retainHandling === 2 || (r.options.retainHandling === 1 && !r.isNew)) continue;
    sendRetained(broker, client, r.filter, r.qos);
  }
}

/** Retained messages go out with the retain flag set (MQTT-3.3.1-8). */
export function sendRetained(broker: Broker, client: Client, filter: string, subQos: QoS): void {
  const matches: Message[] = broker.retained.match(filter);
  const session = client.session!;
  const now = Date.now();
  for (const msg of matches) {
    if (msg.expiresAt !== 0 && msg.expiresAt <= now) {
      // MQTT-3.3.2-5: an expired retained message is no longer delivered; forget it.
      broker.retained.deleteTopic(msg.topic);
      continue;
    }
    if (!broker.mayRead(session, msg.topic)) continue;
    if (broker.options.checkRetainSource && !sourceMayStillWrite(broker, client, msg)) continue;
    const qos = broker.options.upgradeOutgoingQos ? subQos : ((msg.qos < subQos ? msg.qos : subQos) as QoS);
    deliverToSession(broker, session, msg, qos, true, undefined);
  }
}

/**
 * check_retain_source (mosquitto.conf(5)): a retained message goes out only if the client
 * that published it would still be allowed to publish it (after an ACL reload, say).
 * Messages with no known source (the broker's own, or restored without one) pass.
 */
function sourceMayStillWrite(broker: Broker, client: Client, msg: Message): boolean {
  if (msg.from === undefined) return true;
  const a = client.listener.settings.authorizer ?? broker.options.authorizer;
  return a === undefined || a.canWrite(msg.from, msg.fromUsername, msg.topic);
}

/** The Reason Strings of the failure codes among `codes` (0x80 and above), each once; undefined if none failed. */
export function failureReasonString(codes: number[]): string | undefined {
  const texts: string[] = [];
  for (const c of codes) {
    const t = serverReasonString(c);
    if (t !== undefined && !texts.includes(t)) texts.push(t);
  }
  return texts.length > 0 ? texts.join('; ') : undefined;
}
