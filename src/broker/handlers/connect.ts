/**
 * CONNECT (MQTT-3.1): protocol checks, client id, keepalive and properties, will and
 * authentication; a refusal's CONNACK. What follows acceptance (session, CONNACK,
 * redelivery) is connect-accept.ts.
 */
import { randomUUID } from 'node:crypto';
import {
  ReasonCode,
  connackCodeForV3,
  serverReasonString,
  isValidMqttString,
  isValidTopicName,
  type ConnectPacket,
  type ProtocolVersion,
} from '../../protocol/index.js';
import { LogType } from '../log.js';
import { Message } from '../message.js';
import { startEnhancedAuth } from './auth.js';
import { peerIdentity } from '../../net/peer-identity.js';
import { ClientState, PauseOwner, type BrokerCore, type ClientContext } from '../core.js';
import { sendConnack } from '../send/packets.js';
import { acceptConnect } from './connect-accept.js';

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
  if (v5) {
    // Mosquitto tells a refused client the listener's Maximum QoS too (max_qos below 2).
    const maxQos = client.listener.settings.maxQos ?? 2;
    const connack = { cmd: 'connack', sessionPresent: false, reasonCode: code } as const;
    sendConnack(client, maxQos === 2 ? connack : { ...connack, properties: { maximumQoS: maxQos } }, reasonString);
  }
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

/**
 * CONNECT, in Mosquitto's order: the protocol checks, the TLS identity, the client id,
 * keepalive and MQTT 5 properties, the will, then authentication, whose verdict
 * finishConnect hears (possibly later). Each step refuses and closes by itself, and
 * tells so by what it returns.
 */
export function handleConnect(broker: BrokerCore, client: ClientContext, packet: ConnectPacket): void {
  if (!checkConnect(broker, client, packet)) return;
  const tlsIdentity = applyTlsIdentity(broker, client, packet);
  if (tlsIdentity === null) return;
  const id = chooseClientId(broker, client, packet);
  if (id === undefined) return;
  const serverKeepalive = negotiate(broker, client, packet, id.clientId);
  if (serverKeepalive === false) return;
  if (!setWill(broker, client, packet, id.clientId)) return;
  authenticate(broker, client, packet, tlsIdentity !== undefined, (allowed) =>
    finishConnect(broker, client, packet, allowed, id.assignedId, serverKeepalive),
  );
}

/** The protocol name and level, and what makes a CONNECT malformed (MQTT-3.1.2, 3.1.3); false when refused. */
function checkConnect(broker: BrokerCore, client: ClientContext, packet: ConnectPacket): boolean {
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
    return false;
  }
  if (packet.will !== undefined && (packet.will.qos ?? 0) > 2) {
    // MQTT-3.1.2-14: will QoS 3 is malformed; mqtt-packet's parser lets it through.
    broker.log.info(`Invalid Will QoS in CONNECT from ${client.address}.`);
    client.cause = 'protocol';
    client.close();
    return false;
  }
  if (version !== 5 && packet.password !== undefined && packet.username === undefined) {
    // MQTT-3.1.2-22: a password needs a username in 3.1.1.
    broker.log.info(`Protocol error from ${packet.clientId}: password without username, closing connection.`);
    client.cause = 'protocol';
    client.close();
    return false;
  }
  // Mosquitto's verdicts and words for bad strings in CONNECT (compared in broker-log.test.ts).
  if (!isValidMqttString(packet.clientId)) {
    client.cause = 'protocol';
    client.close();
    return false;
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
    return false;
  }
  if (packet.username !== undefined && !isValidMqttString(packet.username)) {
    client.cause = 'protocol';
    client.close();
    return false;
  }
  return true;
}

/**
 * use_identity_as_username / use_subject_as_username / PSK: the TLS identity replaces the
 * CONNECT username and password, and no password check follows (as Mosquitto). The
 * identity, undefined without one, or null when the connection cannot give one (refused).
 */
function applyTlsIdentity(broker: BrokerCore, client: ClientContext, packet: ConnectPacket): string | undefined | null {
  const tlsIdentity = peerIdentity(client.conn);
  if (tlsIdentity !== undefined) {
    if (tlsIdentity === null) {
      broker.stats.authFailedCertificate++;
      refuse(broker, client, ReasonCode.BadUsernameOrPassword);
      return null;
    }
    packet.username = tlsIdentity;
    packet.password = undefined;
  }
  return tlsIdentity;
}

/** The client id: as sent, assigned for an empty one, or the username (use_username_as_clientid); undefined when refused. */
function chooseClientId(broker: BrokerCore, client: ClientContext, packet: ConnectPacket): { clientId: string; assignedId: boolean } | undefined {
  const version = client.protocolVersion;
  const listenerSettings = client.listener.settings;
  let clientId = packet.clientId;
  const clean = packet.clean !== false;
  let assignedId = false;
  if (clientId.length === 0) {
    const allowZero = listenerSettings.allowZeroLengthClientid ?? broker.options.allowZeroLengthClientid;
    // MQTT-3.1.3-7/8: an empty id needs a clean session (3.1.1); 3.1 never allows one.
    if (version === 3 || (version === 4 && !clean) || !allowZero) {
      // Mosquitto answers an MQTT 5 client 0x80 Unspecified error here, 3.1/3.1.1 ones 2.
      refuse(broker, client, version === 5 ? ReasonCode.UnspecifiedError : ReasonCode.ClientIdentifierNotValid);
      return undefined;
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
    return undefined;
  }
  return { clientId, assignedId };
}

/** Keepalive (max_keepalive) and the MQTT 5 CONNECT properties: the Server Keep Alive to send, or false when refused. */
function negotiate(broker: BrokerCore, client: ClientContext, packet: ConnectPacket, clientId: string): number | undefined | false {
  const version = client.protocolVersion;
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
      return false;
    }
  }
  return serverKeepalive;
}

/**
 * The will message (MQTT-3.1.2-8), under the listener's mount point, and its MQTT 5 delay;
 * false when refused: as Mosquitto, a will payload over message_size_limit is refused at
 * CONNECT (0x95 Packet too large for MQTT 5, 5 Not authorised before).
 */
function setWill(broker: BrokerCore, client: ClientContext, packet: ConnectPacket, clientId: string): boolean {
  const listenerSettings = client.listener.settings;
  if (packet.will !== undefined) {
    const w = packet.will;
    const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload;
    const limit = broker.options.messageSizeLimit;
    if (limit > 0 && payload.length > limit) {
      if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Client ${clientId} connected with too large Will payload`);
      client.clientId = '';
      client.cause = 'oversize-payload';
      refuse(broker, client, client.protocolVersion === 5 ? ReasonCode.PacketTooLarge : ReasonCode.NotAuthorized);
      return false;
    }
    const topic = (listenerSettings.mountPoint ?? '') + w.topic;
    // Will properties as net/connection.ts decoded them: user properties in wire order.
    const { willDelayInterval, ...willProps } = w.properties ?? {};
    const hasProps = Object.keys(willProps).length > 0;
    client.will = new Message(topic, payload, (w.qos ?? 0) as 0 | 1 | 2, w.retain === true, hasProps ? willProps : undefined, clientId, packet.username);
    if (w.retain === true) client.will.fromPort = client.listener.listener?.port ?? listenerSettings.port;
    // As Mosquitto, the receivers get the will's properties in their wire order.
    if (hasProps && w.storedProperties !== undefined) client.will.setStoredProperties(w.storedProperties);
    client.willDelay = willDelayInterval ?? 0;
  }
  return true;
}

/**
 * Authentication: MQTT 5 enhanced authentication (AUTH packets), the TLS identity, or
 * allow_anonymous and the password file; `finish` hears the verdict.
 */
function authenticate(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  byTlsIdentity: boolean,
  finish: (allowed: boolean) => void,
): void {
  const props = packet.properties;
  const listenerSettings = client.listener.settings;
  const clientId = client.clientId;
  const method = client.protocolVersion === 5 ? props?.authenticationMethod : undefined;
  if (method !== undefined) {
    // Enhanced authentication replaces the username/password check (MQTT 5, 4.12).
    client.authMethod = method;
    client.authDone = finish;
    startEnhancedAuth(broker, client, method, props?.authenticationData);
    return;
  }

  if (byTlsIdentity) {
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
  // Verification may be slow (bcrypt): later packets wait in client.pending, and once a
  // few have piled up the socket is paused (client.ts), resumed here with the verdict.
  Promise.resolve(
    authenticator.authenticate({ clientId, username: packet.username, password: packet.password, address: client.address }),
  ).then(
    (ok) => {
      client.conn.resume(PauseOwner.Connecting);
      finish(ok);
    },
    () => {
      client.conn.resume(PauseOwner.Connecting);
      finish(false);
    },
  );
}

/** The verdict of authentication: refuse, or let plugins prepare (Redis provisioning) and accept. */
function finishConnect(
  broker: BrokerCore,
  client: ClientContext,
  packet: ConnectPacket,
  allowed: boolean,
  assignedId: boolean,
  serverKeepalive: number | undefined,
): void {
  if (client.state !== ClientState.Authenticating) return;
  if (!allowed) {
    client.cause = 'auth';
    const stats = broker.stats;
    if (client.authMethod !== undefined) stats.authFailedEnhanced++;
    else if (packet.username !== undefined && (client.listener.settings.authenticator ?? broker.options.authenticator) !== undefined) {
      stats.authFailedPassword++;
    } else stats.authFailedAnonymous++;
    // Mosquitto 2.0: every authentication failure is 5 (not authorised) for 3.1/3.1.1 and
    // 0x87 for MQTT 5, whatever failed (checked against mosquitto 2.0.11).
    refuse(broker, client, ReasonCode.NotAuthorized);
    return;
  }
  client.cleanStart = packet.clean !== false;
  // Plugins may need a moment before CONNACK (Redis provisions subscriptions here).
  const waits: Promise<void>[] = [];
  for (const p of broker.plugins) {
    const r = p.onClientConnecting?.(client);
    if (r !== undefined) waits.push(r);
  }
  if (waits.length === 0) {
    acceptConnect(broker, client, packet, packet.clean !== false, assignedId, serverKeepalive);
    return;
  }
  client.conn.pause(PauseOwner.Connecting);
  Promise.allSettled(waits).then(() => {
    client.conn.resume(PauseOwner.Connecting);
    if (client.state === ClientState.Authenticating) acceptConnect(broker, client, packet, packet.clean !== false, assignedId, serverKeepalive);
  });
}
