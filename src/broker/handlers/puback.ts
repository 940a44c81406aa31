/** PUBACK (MQTT-3.4, MQTT-4.3.2): the end of a QoS 1 flow towards the client; its slot in flight frees up. */
import type { PubackPacket } from '../../protocol/index.js';
import type { BrokerCore, ClientContext } from '../core.js';
import { LogType } from '../log.js';

export function handlePuback(broker: BrokerCore, client: ClientContext, packet: PubackPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PUBACK from ${client.id} (Mid: ${mid}, RC:${packet.reasonCode ?? 0})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out === undefined) return;
  if (out.qos !== 1) {
    // A PUBACK for a QoS 2 message: Mosquitto ends the connection as a protocol error,
    // with no DISCONNECT even at MQTT 5 (checked against mosquitto 2.0.11).
    client.disconnect('protocol');
    return;
  }
  for (const p of broker.plugins) p.onAcked?.(session, out.msg);
  broker.messages.complete(session, mid);
}
