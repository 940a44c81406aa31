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
  if (out === undefined || out.qos !== 2) return;
  for (const p of broker.plugins) p.onAcked?.(session, out.msg);
  broker.messages.complete(session, mid);
}
