/** PUBCOMP (MQTT-3.7, MQTT-4.3.3): the end of a QoS 2 flow towards the client. */
import type { PubcompPacket } from '../../protocol/index.js';
import type { BrokerCore, ClientContext } from '../core.js';
import { LogType } from '../log.js';

export function handlePubcomp(broker: BrokerCore, client: ClientContext, packet: PubcompPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PUBCOMP from ${client.id} (Mid: ${mid}, RC:${packet.reasonCode ?? 0})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out === undefined) return;
  if (out.qos !== 2 || out.state !== 1) {
    // A PUBCOMP for a QoS 1 message, or before PUBREC: Mosquitto ends the connection as a
    // protocol error, with no DISCONNECT even at MQTT 5 (checked against mosquitto 2.0.11).
    client.disconnect('protocol');
    return;
  }
  for (const p of broker.plugins) p.onAcked?.(session, out.msg);
  broker.messages.complete(session, mid);
}
