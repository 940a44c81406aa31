/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT-4.3.2, MQTT-4.3.3).
 */
import type { PubackPacket, PubcompPacket, PubrecPacket, PubrelPacket } from '../../protocol/index.js';
import { LogType } from '../log.js';
import { sendAck, sendPubrel } from '../send/packets.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handlePuback(broker: BrokerCore, client: ClientContext, packet: PubackPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PUBACK from ${client.id} (Mid: ${mid}, RC:${packet.reasonCode ?? 0})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out === undefined || out.qos !== 1) return;
  for (const p of broker.plugins) p.onAcked?.(session, out.msg);
  broker.messages.complete(session, mid);
}

export function handlePubrec(broker: BrokerCore, client: ClientContext, packet: PubrecPacket): void {
  const mid = packet.messageId ?? 0;
  const rc = packet.reasonCode ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    // Mosquitto logs PUBREC without the reason code, unlike PUBACK and PUBCOMP.
    broker.log.debug(`Received PUBREC from ${client.id} (Mid: ${mid})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out === undefined || out.qos !== 2) {
    broker.log.warning(`Warning: Received PUBREC from ${client.id} for an unknown packet identifier ${mid}.`);
    // Mosquitto answers with a plain PUBREL (and its log line) in every version, even though
    // MQTT 5 would allow reason 0x92 here.
    sendPubrel(client, mid);
    return;
  }
  if (rc >= 0x80) {
    // MQTT-4.3.3: a failure reason ends the flow here.
    broker.messages.complete(session, mid);
    return;
  }
  out.state = 1;
  if (!session.clean && broker.persistHooks.length > 0) broker.notifyOutgoing(session, out, 'pubrel');
  sendPubrel(client, mid);
}

export function handlePubrel(broker: BrokerCore, client: ClientContext, packet: PubrelPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Received PUBREL from ${client.id} (Mid: ${mid})`);
  const session = client.session!;
  const msg = session.incoming.get(mid);
  let rc = 0;
  if (msg !== undefined) {
    session.incoming.delete(mid);
    broker.publish(msg, client.clientId);
    if (broker.persistHooks.length > 0) broker.notifyIncoming(session, mid, undefined);
  } else if (client.protocolVersion === 5) {
    rc = 0x92;
  }
  if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Sending PUBCOMP to ${client.id} (m${mid})`);
  sendAck(client, 'pubcomp', mid, rc);
}

export function handlePubcomp(broker: BrokerCore, client: ClientContext, packet: PubcompPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PUBCOMP from ${client.id} (Mid: ${mid}, RC:${packet.reasonCode ?? 0})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out === undefined || out.qos !== 2) return;
  for (const p of broker.plugins) p.onAcked?.(session, out.msg);
  broker.messages.complete(session, mid);
}
