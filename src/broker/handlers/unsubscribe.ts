/** UNSUBSCRIBE (MQTT-3.10): remove each filter, UNSUBACK (with a reason per filter in v5). */
import { isValidTopicFilter, ReasonCode, type UnsubscribePacket } from '../../protocol/index.js';
import { LogType } from '../log.js';
import { sendUnsuback } from '../send/packets.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handleUnsubscribe(broker: BrokerCore, client: ClientContext, packet: UnsubscribePacket): void {
  const log = broker.log;
  const session = client.session!;
  if (log.enabled(LogType.Debug)) log.debug(`Received UNSUBSCRIBE from ${client.id}`);
  if ((packet.messageId ?? 0) === 0) {
    // MQTT-2.2.1-3: a non-zero packet id; Mosquitto: malformed (v5 DISCONNECT 0x81).
    client.disconnect('malformed', ReasonCode.MalformedPacket);
    return;
  }
  if (packet.unsubscriptions.length === 0) {
    // MQTT-3.10.3-2: at least one filter; Mosquitto treats an empty payload as malformed.
    client.disconnect('malformed', ReasonCode.MalformedPacket);
    return;
  }
  for (const filter of packet.unsubscriptions) {
    if (!isValidTopicFilter(filter)) {
      // As Mosquitto: an empty or invalid filter (MQTT-4.7.1, MQTT-3.10.3-2) ends the
      // connection as a malformed packet (v5 DISCONNECT 0x81), no UNSUBACK for any of them.
      log.info(`${filter.length === 0 ? 'Empty' : 'Invalid'} unsubscription string from ${client.id}, disconnecting.`);
      client.disconnect('malformed', ReasonCode.MalformedPacket);
      return;
    }
  }
  const reasons: number[] = [];
  for (const filter of packet.unsubscriptions) {
    if (log.enabled(LogType.Debug)) log.debug(`\t${filter}`);
    // Mosquitto writes the unsubscribe line whether or not the subscription existed.
    if (log.enabled(LogType.Unsubscribe)) log.write(LogType.Unsubscribe, `${client.id} ${filter}`);
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) {
      reasons.push(ReasonCode.NoSubscriptionExisted);
      continue;
    }
    session.subscriptions.delete(filter);
    broker.removeSubscription(session, sub.treeFilter, sub.shareGroup);
    for (const p of broker.plugins) p.onUnsubscribe?.(session, filter);
    reasons.push(ReasonCode.Success);
  }
  sendUnsuback(client, packet.messageId, reasons);
}
