/** PUBREC (MQTT-3.5, MQTT-4.3.3): the client received a QoS 2 message we sent; PUBREL answers it. */
import type { PubrecPacket } from '../../protocol/index.js';
import type { BrokerCore, ClientContext } from '../core.js';
import { LogType } from '../log.js';
import { sendPubrel } from '../send/packets.js';

export function handlePubrec(broker: BrokerCore, client: ClientContext, packet: PubrecPacket): void {
  const mid = packet.messageId ?? 0;
  const rc = packet.reasonCode ?? 0;
  if (broker.log.enabled(LogType.Debug)) {
    // Mosquitto logs PUBREC without the reason code, unlike PUBACK and PUBCOMP.
    broker.log.debug(`Received PUBREC from ${client.id} (Mid: ${mid})`);
  }
  const session = client.session!;
  const out = session.inflight.get(mid);
  if (out !== undefined && out.qos !== 2) {
    // A PUBREC for a QoS 1 message: Mosquitto ends the connection as a protocol error,
    // with no DISCONNECT even at MQTT 5 (checked against mosquitto 2.0.11).
    client.disconnect('protocol');
    return;
  }
  if (out === undefined) {
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
