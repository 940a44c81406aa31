/**
 * The accepting end of CONNECT (MQTT-3.1.4, 3.2): the session taken over, resumed or
 * started, the connect log lines, CONNACK with its MQTT 5 properties, and redelivery of
 * what a resumed session had in flight and queued (MQTT-4.4.0-1).
 */
import { ReasonCode, type ConnectPacket } from '../../protocol/index.js';
import { ClientState, type BrokerCore, type ClientContext } from '../core.js';
import { resendInflight, pumpQueue } from '../deliver.js';
import { LogType } from '../log.js';
import { sendConnack, sendConnackAccepted } from '../send/packets.js';

export function acceptConnect(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  clean: boolean,
  assignedId: boolean,
  serverKeepalive: number | undefined,
): void {
  if (resumesQueue(broker, client.clientId, clean)) {
    // The queued messages are checked against the ACL as they go out, and a reload
    // (SIGHUP) signalled before this CONNECT must apply to them (Mosquitto's test
    // 09-acl-change). libuv runs the signal's handler after the socket callbacks of the
    // poll pass that found it, so this CONNECT may be read first: the accept waits for the
    // check phase, after that pass. Until then the client stays Authenticating and what it
    // sent after CONNECT stays unread in its connection (hold), to be read after CONNACK and
    // the queue as Mosquitto answers it, a bad packet or a DISCONNECT included. Only here:
    // a session without a queue sends nothing the ACL decides at connect.
    client.conn.hold();
    setImmediate(() => {
      // Closed meanwhile (its socket reset, the broker stopping): nothing to accept.
      if (client.state === ClientState.Authenticating) accept(broker, client, packet, clean, assignedId, serverKeepalive);
      client.conn.release();
    });
    return;
  }
  accept(broker, client, packet, clean, assignedId, serverKeepalive);
}

/** Whether this CONNECT resumes a session that has messages queued (see attachSession). */
function resumesQueue(broker: BrokerCore, clientId: string, clean: boolean): boolean {
  if (clean) return false;
  const session = broker.sessions.get(clientId);
  return session !== undefined && !session.clean && session.queue.length > 0;
}

function accept(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  clean: boolean,
  assignedId: boolean,
  serverKeepalive: number | undefined,
): void {
  const sessionPresent = attachSession(broker, client, clean);
  const session = client.session!;
  logConnected(broker, client, clean, sessionPresent);
  // Session attached, CONNACK not yet queued: plugins may subscribe the client here.
  for (const p of broker.plugins) p.onClientConnected?.(client);
  const version = client.protocolVersion;
  if (version === 5) {
    if (!sendConnackV5(broker, client, packet, sessionPresent, assignedId, serverKeepalive)) return;
  } else {
    // MQTT 3.1 has no Session Present flag (it came with 3.1.1, MQTT-3.2.2-1): Mosquitto
    // sends 0 to a 3.1 client whatever it resumed.
    sendConnackAccepted(client, sessionPresent && version !== 3);
  }
  if (sessionPresent) {
    resendInflight(broker, session, client);
    pumpQueue(broker, session);
  }
  client.drainPending();
}

/**
 * The client's session: an existing connection with its id taken over (MQTT-3.1.4-2), its
 * session resumed or a new one started; the client is then active and counted. Returns
 * Session Present: whether an existing session was resumed.
 */
function attachSession(broker: BrokerCore, client: ClientContext, clean: boolean): boolean {
  const clientId = client.clientId;
  let session = broker.sessions.get(clientId);
  if (session !== undefined && session.client !== null) {
    // MQTT-3.1.4-2: the existing connection is closed. As in Mosquitto, its will is sent
    // unless a persistent session simply moves on to the new connection.
    if (broker.log.connectionMessages) broker.log.notice(`Client ${clientId} already connected, closing old connection.`);
    const old = session.client;
    // A will with a delay is dropped whenever the client id connects again (Mosquitto).
    if ((!session.clean && !clean) || old.willDelay > 0) old.will = null;
    old.disconnect('takeover', ReasonCode.SessionTakenOver);
    broker.detachClient(old);
    session = broker.sessions.get(clientId);
  }
  let sessionPresent = false;
  if (session !== undefined) {
    // MQTT-3.1.3-9: a client that returns before its will delay ran out cancels the will,
    // and as Mosquitto also when it starts clean. A session that ended at disconnect and
    // only waited for that will is not resumed.
    session.pendingWill = undefined;
    if (clean || session.clean) {
      broker.sessions.destroy(session);
      session = undefined;
    }
  }
  if (session === undefined) {
    session = broker.sessions.create(clientId, clean);
    for (const p of broker.plugins) p.onSessionCreated?.(session);
  } else {
    sessionPresent = true;
    session.clean = clean;
  }
  if (client.protocolVersion === 5) {
    session.expiryInterval = client.sessionExpiry;
    // MQTT 5 has no "clean session": clean start plus a zero expiry behaves like it.
    session.clean = client.sessionExpiry === 0;
  }
  session.username = client.username;
  session.client = client;
  session.disconnectedAt = 0;
  client.session = session;
  client.state = ClientState.Active;
  const stats = broker.stats;
  stats.clientsConnected++;
  stats.connectionsTotal++;
  if (stats.clientsConnected > stats.clientsMaximum) stats.clientsMaximum = stats.clientsConnected;
  return sessionPresent;
}

/** Mosquitto's lines for an accepted connection: the connect line, the will, the CONNACK. */
function logConnected(broker: BrokerCore, client: ClientContext, clean: boolean, sessionPresent: boolean): void {
  const log = broker.log;
  const clientId = client.clientId;
  const version = client.protocolVersion;
  // connection_messages false hides the connect line and the will lines, as Mosquitto.
  if (log.connectionEnabled(LogType.Notice)) {
    const p = version === 3 ? 1 : version === 4 ? 2 : 5;
    const u = client.username !== undefined ? `, u'${client.username}'` : '';
    log.notice(
      `New ${client.isBridge ? 'bridge' : 'client'} connected from ${client.address}:${client.conn.remotePort} as ${clientId} (p${p}, c${clean ? 1 : 0}, k${client.requestedKeepalive}${u}).`,
    );
  }
  if (log.connectionEnabled(LogType.Debug)) {
    const w = client.will;
    if (w === null) log.debug('No will message specified.');
    else {
      log.debug(`Will message specified (${w.payload.length} bytes) (r${w.retain ? 1 : 0}, q${w.qos}).`);
      log.debug(`\t${w.topic}`);
    }
  }
  if (log.enabled(LogType.Debug)) {
    log.debug(`Sending CONNACK to ${clientId} (${sessionPresent ? 1 : 0}, 0)`);
  }
}

/** An MQTT 5 CONNACK accepting the connection, with its properties; false if it could not be sent. */
function sendConnackV5(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  sessionPresent: boolean,
  assignedId: boolean,
  serverKeepalive: number | undefined,
): boolean {
  const clientId = client.clientId;
  // In Mosquitto's order (its test suite compares the bytes): Topic Alias Maximum first,
  // then Assigned Client Identifier, Server Keep Alive, ..., Receive Maximum.
  const props: Record<string, unknown> = {};
  if (broker.options.maxTopicAlias > 0) props.topicAliasMaximum = broker.options.maxTopicAlias;
  if (assignedId) props.assignedClientIdentifier = clientId;
  if (serverKeepalive !== undefined) props.serverKeepAlive = serverKeepalive;
  if (!broker.options.retainAvailable) props.retainAvailable = false;
  if (broker.options.maxPacketSize > 0) props.maximumPacketSize = broker.options.maxPacketSize;
  if (broker.options.maxInflightMessages > 0) props.receiveMaximum = broker.options.maxInflightMessages;
  const maxQos = client.listener.settings.maxQos ?? 2;
  if (maxQos !== 2) props.maximumQoS = maxQos;
  if (client.authMethod !== undefined) {
    props.authenticationMethod = client.authMethod;
    if (client.authData !== undefined) props.authenticationData = client.authData;
    client.authData = undefined;
  }
  const connack = { cmd: 'connack', sessionPresent, reasonCode: 0, properties: props } as const;
  // MQTT 5 3.1.2.11.6 / 3.2.2.3.15: Response Information only when asked for (never
  // otherwise); the sending side leaves it out rather than exceed the Maximum Packet Size.
  const optional = packet.properties?.requestResponseInformation === true ? { responseInformation: responseInformation(broker, clientId) } : undefined;
  return sendConnack(client, connack, undefined, optional);
}

/**
 * The Response Information for a client that asks for it (MQTT 5 3.2.2.3.15): the topic
 * `response_topic_prefix/CLIENTID` under which it may build its response topics, e.g.
 * `response/sensor-7` (ts-mosquitto.conf(5)). The client id is escaped so that it names
 * one topic level and nothing more: '%' '+' '#' '/' become %25 %2B %23 %2F (distinct ids
 * stay distinct; an id with a wildcard or a level separator never widens the topic).
 */
export function responseInformation(broker: BrokerCore, clientId: string): string {
  return `${broker.options.responseTopicPrefix}/${clientId.replace(/[%+#/]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`;
}
