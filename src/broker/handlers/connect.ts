/**
 * CONNECT (MQTT-3.1): protocol checks, client id, authentication, session takeover and
 * resumption, will, CONNACK, and redelivery of what a persistent session had in flight.
 */
import { randomUUID } from 'node:crypto';
import {
  ReasonCode,
  connackCodeForV3,
  encodePacket,
  serverReasonString,
  isValidMqttString,
  isValidTopicName,
  type ConnectPacket,
  type ProtocolVersion,
} from '../../protocol/index.js';
import { resendInflight, pumpQueue } from '../deliver.js';
import { LogType } from '../log.js';
import { Message } from '../message.js';
import { startEnhancedAuth } from './auth.js';
import { peerIdentity } from '../../net/peer-identity.js';
import { ClientState, type BrokerCore, type ClientContext } from '../core.js';
import { sendConnack, sendConnackAccepted } from '../send/packets.js';

/**
 * CONNACK with a refusal, then close (MQTT-3.2.2-5). MQTT 5 clients are told why in a
 * Reason String too (3.2.2.3.7), unless it would exceed their Maximum Packet Size.
 */
export function refuse(broker: BrokerCore, client: ClientContext, v5Reason: number, reasonString = serverReasonString(v5Reason)): void {
  const v5 = client.protocolVersion === 5;
  const code = v5 ? v5Reason : connackCodeForV3(v5Reason);
  const refused = broker.stats.connectRefused;
  refused[v5Reason] = (refused[v5Reason] ?? 0) + 1;
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Sending CONNACK to ${client.clientId === '' ? client.address : client.clientId} (0, ${code})`);
  }
  if (v5) sendConnack(client, { cmd: 'connack', sessionPresent: false, reasonCode: code }, reasonString);
  else sendConnack(client, { cmd: 'connack', sessionPresent: false, returnCode: code });
  client.cause ??= 'protocol';
  client.close();
}

/** A CONNECT with a protocol level we do not speak: CONNACK 1 and close (MQTT-3.1.2-2). */
export function handleBadProtocolVersion(broker: BrokerCore, client: ClientContext): void {
  const level = client.conn.connectLevel();
  broker.log.info(`Invalid protocol version ${level} in CONNECT from ${client.address}.`);
  client.protocolVersion = 4;
  refuse(broker, client, ReasonCode.UnsupportedProtocolVersion);
}

export function handleConnect(broker: BrokerCore, client: ClientContext, packet: ConnectPacket): void {
  const version = (packet.protocolVersion ?? 4) as ProtocolVersion;
  const protocolId = packet.protocolId ?? 'MQTT';
  client.protocolVersion = version;
  client.conn.setProtocolVersion(version);
  client.state = ClientState.Authenticating;

  if (version === 5) {
    // Known before any refusal: what the CONNACK may carry depends on them.
    const p = packet.properties;
    if (p?.maximumPacketSize !== undefined) client.maxOutboundPacket = p.maximumPacketSize;
    if (p?.requestProblemInformation === false) client.problemInformation = false;
  }

  // MQTT-3.1.2-1/2: "MQIsdp" goes with level 3, "MQTT" with 4 and 5.
  if ((protocolId === 'MQIsdp') !== (version === 3)) {
    broker.log.info(`Invalid protocol version ${version} in CONNECT from ${client.address}.`);
    refuse(broker, client, ReasonCode.UnsupportedProtocolVersion);
    return;
  }
  if (packet.will !== undefined && (packet.will.qos ?? 0) > 2) {
    // MQTT-3.1.2-14: will QoS 3 is malformed; mqtt-packet's parser lets it through.
    broker.log.info(`Invalid Will QoS in CONNECT from ${client.address}.`);
    client.cause = 'protocol';
    client.close();
    return;
  }
  if (version !== 5 && packet.password !== undefined && packet.username === undefined) {
    // MQTT-3.1.2-22: a password needs a username in 3.1.1.
    broker.log.info(`Protocol error from ${packet.clientId}: password without username, closing connection.`);
    client.cause = 'protocol';
    client.close();
    return;
  }
  // Mosquitto's verdicts and words for bad strings in CONNECT (compared in broker-log.test.ts).
  if (!isValidMqttString(packet.clientId)) {
    client.cause = 'protocol';
    client.close();
    return;
  }
  if (packet.will !== undefined && !isValidTopicName(packet.will.topic)) {
    const topic = packet.will.topic;
    if (topic.length === 0) {
      client.cause = 'protocol';
    } else {
      // Mosquitto reports these through its generic socket-error line; 'admin' logs nothing more.
      const reason = topic.includes('+') || topic.includes('#') ? 'Invalid function arguments provided.' : 'Malformed UTF-8';
      if (broker.log.connectionMessages) broker.log.notice(`Bad socket read/write on client ${client.id}: ${reason}`);
      client.cause = 'admin';
    }
    client.close();
    return;
  }
  if (packet.username !== undefined && !isValidMqttString(packet.username)) {
    client.cause = 'protocol';
    client.close();
    return;
  }

  // use_identity_as_username / use_subject_as_username / PSK: the TLS identity replaces the
  // CONNECT username and password, and no password check follows (as Mosquitto).
  const tlsIdentity = peerIdentity(client.conn);
  if (tlsIdentity !== undefined) {
    if (tlsIdentity === null) {
      broker.stats.authFailedCertificate++;
      refuse(broker, client, ReasonCode.BadUsernameOrPassword);
      return;
    }
    packet.username = tlsIdentity;
    packet.password = undefined;
  }

  const listenerSettings = client.listener.settings;
  let clientId = packet.clientId;
  const clean = packet.clean !== false;
  let assignedId = false;
  if (clientId.length === 0) {
    const allowZero = listenerSettings.allowZeroLengthClientid ?? broker.options.allowZeroLengthClientid;
    // MQTT-3.1.3-7/8: an empty id needs a clean session (3.1.1); 3.1 never allows one.
    if (version === 3 || (version === 4 && !clean) || !allowZero) {
      refuse(broker, client, ReasonCode.ClientIdentifierNotValid);
      return;
    }
    const prefix = listenerSettings.autoIdPrefix ?? broker.options.autoIdPrefix;
    clientId = prefix + randomUUID().toUpperCase();
    assignedId = true;
  }
  if (listenerSettings.useUsernameAsClientid === true && packet.username !== undefined) {
    clientId = packet.username;
  }
  const prefixes = listenerSettings.clientidPrefixes;
  if (prefixes !== undefined && prefixes !== '' && !clientId.startsWith(prefixes)) {
    refuse(broker, client, ReasonCode.NotAuthorized);
    return;
  }

  let keepalive = packet.keepalive ?? 0;
  const maxKeepalive = broker.options.maxKeepalive;
  let serverKeepalive: number | undefined;
  // max_keepalive applies to MQTT 5 clients only (mosquitto.conf(5)); Mosquitto 2.0 accepts
  // a 3.1/3.1.1 client whatever keepalive it asks for. The log line shows the requested one.
  client.requestedKeepalive = keepalive;
  if (version === 5) {
    if (keepalive > maxKeepalive || (keepalive === 0 && maxKeepalive < 65535)) {
      keepalive = maxKeepalive;
      serverKeepalive = maxKeepalive;
    }
  }
  client.keepalive = keepalive;
  client.clientId = clientId;
  client.username = packet.username;

  const props = packet.properties;
  if (version === 5 && props !== undefined) {
    if (props.receiveMaximum !== undefined) {
      client.inflightLimit = Math.min(client.inflightLimit, props.receiveMaximum);
    }
    if (props.topicAliasMaximum !== undefined) client.topicAliasMaxOut = Math.min(props.topicAliasMaximum, 65535);
    client.sessionExpiry = props.sessionExpiryInterval ?? 0;
    const method = props.authenticationMethod;
    if (method !== undefined && (broker.enhancedAuth === undefined || !broker.enhancedAuth.methods.includes(method))) {
      // MQTT-4.12.0-1: a method we do not support is refused.
      refuse(broker, client, ReasonCode.BadAuthenticationMethod);
      return;
    }
  }

  if (packet.will !== undefined) {
    const w = packet.will;
    const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload;
    const topic = (listenerSettings.mountPoint ?? '') + w.topic;
    // Will properties as net/connection.ts decoded them: user properties in wire order.
    const { willDelayInterval, ...willProps } = w.properties ?? {};
    const hasProps = Object.keys(willProps).length > 0;
    client.will = new Message(topic, payload, (w.qos ?? 0) as 0 | 1 | 2, w.retain === true, hasProps ? willProps : undefined, clientId, packet.username);
    client.willDelay = willDelayInterval ?? 0;
  }

  const finish = (allowed: boolean): void => {
    if (client.state !== ClientState.Authenticating) return;
    if (!allowed) {
      client.cause = 'auth';
      const stats = broker.stats;
      if (client.authMethod !== undefined) stats.authFailedEnhanced++;
      else if (packet.username !== undefined && (listenerSettings.authenticator ?? broker.options.authenticator) !== undefined) {
        stats.authFailedPassword++;
      } else stats.authFailedAnonymous++;
      // Mosquitto 2.0: every authentication failure is 5 (not authorised) for 3.1/3.1.1 and
      // 0x87 for MQTT 5, whatever failed (checked against mosquitto 2.0.11).
      refuse(broker, client, ReasonCode.NotAuthorized);
      return;
    }
    // Plugins may need a moment before CONNACK (Redis provisions subscriptions here).
    const waits: Promise<void>[] = [];
    for (const p of broker.plugins) {
      const r = p.onClientConnecting?.(client);
      if (r !== undefined) waits.push(r);
    }
    if (waits.length === 0) {
      acceptConnect(broker, client, packet, clean, assignedId, serverKeepalive);
      return;
    }
    client.conn.pause();
    Promise.allSettled(waits).then(() => {
      client.conn.resume();
      if (client.state === ClientState.Authenticating) acceptConnect(broker, client, packet, clean, assignedId, serverKeepalive);
    });
  };

  const method = version === 5 ? props?.authenticationMethod : undefined;
  if (method !== undefined) {
    // Enhanced authentication replaces the username/password check (MQTT 5, 4.12).
    client.authMethod = method;
    client.authDone = finish;
    startEnhancedAuth(broker, client, method, props?.authenticationData);
    return;
  }

  if (tlsIdentity !== undefined) {
    finish(true);
    return;
  }

  const authenticator = listenerSettings.authenticator ?? broker.options.authenticator;
  const allowAnonymous = listenerSettings.allowAnonymous ?? broker.options.allowAnonymous;
  // Without a password file, allow_anonymous decides for every client, username or not;
  // with one, it decides for clients without a username (Mosquitto 2.0).
  if (authenticator === undefined || packet.username === undefined) {
    finish(allowAnonymous);
    return;
  }
  // Verification may be slow (bcrypt): later packets wait in client.pending, the socket is paused.
  client.conn.pause();
  Promise.resolve(
    authenticator.authenticate({ clientId, username: packet.username, password: packet.password, address: client.address }),
  ).then(
    (ok) => {
      client.conn.resume();
      finish(ok);
    },
    () => {
      client.conn.resume();
      finish(false);
    },
  );
}

function acceptConnect(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  clean: boolean,
  assignedId: boolean,
  serverKeepalive: number | undefined,
): void {
  const clientId = client.clientId;
  const version = client.protocolVersion;
  let session = broker.sessions.get(clientId);
  if (session !== undefined && session.client !== null) {
    // MQTT-3.1.4-2: the existing connection is closed. As in Mosquitto, its will is sent
    // unless a persistent session simply moves on to the new connection.
    if (broker.log.connectionMessages) broker.log.notice(`Client ${clientId} already connected, closing old connection.`);
    const old = session.client;
    if (!session.clean && !clean) old.will = null;
    old.disconnect('takeover', ReasonCode.SessionTakenOver);
    broker.detachClient(old);
    session = broker.sessions.get(clientId);
  }
  let sessionPresent = false;
  if (session !== undefined && clean) {
    broker.sessions.destroy(session);
    session = undefined;
  }
  if (session === undefined) {
    session = broker.sessions.create(clientId, clean);
    for (const p of broker.plugins) p.onSessionCreated?.(session);
  } else {
    sessionPresent = true;
    session.clean = clean;
    // MQTT-3.1.3-9: a client that returns before its will delay ran out cancels the will.
    session.pendingWill = undefined;
  }
  if (version === 5) {
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

  const log = broker.log;
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
  // Session attached, CONNACK not yet queued: plugins may subscribe the client here.
  for (const p of broker.plugins) p.onClientConnected?.(client);
  if (version === 5) {
    const props: Record<string, unknown> = {};
    if (assignedId) props.assignedClientIdentifier = clientId;
    if (serverKeepalive !== undefined) props.serverKeepAlive = serverKeepalive;
    if (broker.options.maxTopicAlias > 0) props.topicAliasMaximum = broker.options.maxTopicAlias;
    if (!broker.options.retainAvailable) props.retainAvailable = false;
    if (broker.options.maxPacketSize > 0) props.maximumPacketSize = broker.options.maxPacketSize;
    if (broker.options.maxInflightMessages > 0) props.receiveMaximum = broker.options.maxInflightMessages;
    if (client.authMethod !== undefined) {
      props.authenticationMethod = client.authMethod;
      if (client.authData !== undefined) props.authenticationData = client.authData;
      client.authData = undefined;
    }
    let connack = { cmd: 'connack', sessionPresent, reasonCode: 0, properties: props } as const;
    if (packet.properties?.requestResponseInformation === true) {
      // MQTT 5 3.1.2.11.6 / 3.2.2.3.15: only when asked for (never otherwise), and left out
      // rather than exceed the client's Maximum Packet Size (MQTT-3.1.2-25).
      const withInfo = { ...connack, properties: { ...props, responseInformation: responseInformation(broker, clientId) } };
      const max = client.maxOutboundPacket;
      if (max === 0 || encodePacket(withInfo, 5).length <= max) connack = withInfo;
    }
    sendConnack(client, connack);
  } else {
    sendConnackAccepted(client, sessionPresent);
  }
  if (sessionPresent) {
    resendInflight(broker, session, client);
    pumpQueue(broker, session);
  }
  client.drainPending();
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
