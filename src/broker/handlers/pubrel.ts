/** PUBREL (MQTT-3.6, MQTT-4.3.3): the client releases a QoS 2 message it sent; it goes to subscribers now, PUBCOMP answers. */
import type { PubrelPacket } from '../../protocol/index.js';
import type { BrokerCore, ClientContext } from '../core.js';
import { LogType } from '../log.js';
import { sendAck } from '../send/packets.js';
import { ackHeld, ackInOrder } from './ack-hold.js';

export function handlePubrel(broker: BrokerCore, client: ClientContext, packet: PubrelPacket): void {
  const mid = packet.messageId ?? 0;
  if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Received PUBREL from ${client.id} (Mid: ${mid})`);
  if (mid === 0) {
    // MQTT-2.2.1-3: packet id 0; Mosquitto closes as a protocol error, no DISCONNECT.
    client.disconnect('protocol');
    return;
  }
  const session = client.session!;
  const msg = session.incoming.get(mid);
  if (msg !== undefined) {
    session.incoming.delete(mid);
    broker.publish(msg, client.clientId);
    if (broker.persistHooks.length > 0) broker.notifyIncoming(session, mid, undefined);
  }
  // For a packet id it does not know (a PUBREL sent again after a reconnect), Mosquitto
  // answers a plain PUBCOMP at MQTT 5 too, where 0x92 would be allowed.
  const rc = 0;
  const wait = msg !== undefined ? broker.ackWait : undefined;
  const send = (): void => {
    if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Sending PUBCOMP to ${client.id} (m${mid})`);
    sendAck(client, 'pubcomp', mid, rc);
  };
  if (wait === undefined && !ackHeld()) send();
  else ackInOrder(client, wait, send);
}
