/**
 * What happens when a client's connection is gone (not the DISCONNECT packet: that is
 * handlers/disconnect.ts): the log line Mosquitto writes for each cause, and the
 * will message (MQTT-3.1.2-8: published unless the client sent DISCONNECT).
 */
import type { BrokerCore, ClientContext } from './core.js';

export function logClientGone(broker: BrokerCore, client: ClientContext, wasActive: boolean): void {
  // connection_messages false: Mosquitto writes none of these lines.
  if (!broker.log.connectionMessages) return;
  const id = client.id;
  switch (client.cause) {
    case 'disconnect':
      broker.log.notice(`Client ${id} disconnected.`);
      break;
    case 'closed':
      broker.log.notice(`Client ${id} closed its connection.`);
      break;
    case 'closed-mid-packet':
      broker.log.notice(`Client ${id} disconnected: Success.`);
      break;
    case 'socket-error':
      broker.log.notice(`Socket error on client ${id}, disconnecting.`);
      break;
    case 'protocol':
      broker.log.notice(`Client ${id} disconnected due to protocol error.`);
      break;
    case 'malformed':
      broker.log.notice(`Client ${id} disconnected due to malformed packet.`);
      break;
    case 'tls':
      broker.log.notice(`Client ${id} disconnected: Protocol error.`);
      break;
    case 'oversize':
      broker.log.notice(`Client ${id} disconnected due to oversize packet.`);
      break;
    case 'oversize-payload':
      broker.log.notice(`Client ${id} disconnected due to oversize payload.`);
      break;
    case 'auth':
      broker.log.notice(`Client ${id} disconnected, not authorised.`);
      break;
    case 'takeover':
    case 'keepalive':
    case 'shutdown':
    case 'admin':
      // Already logged where it happened (or nothing, as Mosquitto).
      break;
    default:
      if (wasActive) broker.log.notice(`Client ${id} closed its connection.`);
  }
}

export function publishWill(broker: BrokerCore, client: ClientContext): void {
  const will = client.will;
  client.will = null;
  if (will === null) return;
  broker.publish(will, client.clientId);
}
