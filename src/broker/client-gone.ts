/**
 * What happens when a client's connection is gone (not the DISCONNECT packet: that is
 * handlers/disconnect.ts): the log line Mosquitto writes for each cause, and the
 * will message (MQTT-3.1.2-8: published unless the client sent DISCONNECT).
 */
import type { BrokerCore, ClientContext, CloseCause } from './core.js';

/**
 * Mosquitto's line for each cause of a connection's end. null: already logged where it
 * happened (takeover, keepalive), or nothing, as Mosquitto (shutdown, admin).
 */
const GONE_LINES: { readonly [C in CloseCause]: ((id: string) => string) | null } = {
  disconnect: (id) => `Client ${id} disconnected.`,
  closed: (id) => `Client ${id} closed its connection.`,
  'closed-mid-packet': (id) => `Client ${id} disconnected: Success.`,
  'socket-error': (id) => `Socket error on client ${id}, disconnecting.`,
  protocol: (id) => `Client ${id} disconnected due to protocol error.`,
  malformed: (id) => `Client ${id} disconnected due to malformed packet.`,
  tls: (id) => `Client ${id} disconnected: Protocol error.`,
  oversize: (id) => `Client ${id} disconnected due to oversize packet.`,
  'oversize-payload': (id) => `Client ${id} disconnected due to oversize payload.`,
  auth: (id) => `Client ${id} disconnected, not authorised.`,
  takeover: null,
  keepalive: null,
  shutdown: null,
  admin: null,
};

export function logClientGone(broker: BrokerCore, client: ClientContext, wasActive: boolean): void {
  // connection_messages false: Mosquitto writes none of these lines.
  if (!broker.log.connectionMessages) return;
  // No cause recorded: the line of a closed connection, if the client had connected.
  const cause = client.cause;
  const line = cause !== undefined ? GONE_LINES[cause] : wasActive ? GONE_LINES.closed : null;
  if (line !== null) broker.log.notice(line(client.id));
}

export function publishWill(broker: BrokerCore, client: ClientContext): void {
  const will = client.will;
  client.will = null;
  if (will === null) return;
  broker.publish(will, client.clientId);
}
