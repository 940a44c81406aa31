/**
 * DISCONNECT from the client (MQTT-3.14): the will is discarded (MQTT-3.14.4-3), except
 * for MQTT 5 reason 0x04 "disconnect with will message"; v5 may change the session expiry.
 */
import { ReasonCode, type DisconnectPacket } from '../../protocol/index.js';
import { LogType } from '../log.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handleDisconnect(broker: BrokerCore, client: ClientContext, packet: DisconnectPacket): void {
  if (client.protocolVersion === 5) {
    client.disconnectReason = packet.reasonCode ?? 0;
    const expiry = packet.properties?.sessionExpiryInterval;
    if (expiry !== undefined && client.session !== null) {
      // MQTT-3.14.2-2: a session that was created with expiry 0 cannot be given one now.
      if (client.sessionExpiry === 0 && expiry !== 0) {
        client.protocolError(ReasonCode.ProtocolError);
        return;
      }
      client.session.expiryInterval = expiry;
      client.session.clean = expiry === 0;
    }
  }
  // After the checks: Mosquitto does not log a DISCONNECT it refuses as received.
  if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Received DISCONNECT from ${client.id}`);
  if (client.disconnectReason !== 0x04) client.will = null;
  client.cause = 'disconnect';
  client.close();
}
