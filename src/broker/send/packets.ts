/**
 * The sending side for every packet but PUBLISH (send/publish.ts): one function per
 * packet type, as Mosquitto's send_*.c. Handlers, delivery and the client's own error
 * paths send through here, never by writing to a connection themselves.
 */
import {
  ConnackReturnCode,
  encodeAck,
  encodePacket,
  serverReasonString,
  type ConnackPacket,
  type Packet,
} from '../../protocol/index.js';
import type { ClientContext } from '../core.js';
import { LogType } from '../log.js';

const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, ConnackReturnCode.Accepted]);
const CONNACK_ACCEPTED_PRESENT = Buffer.from([0x20, 0x02, 0x01, ConnackReturnCode.Accepted]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/**
 * Sends an MQTT 5 packet with a Reason String property where reason_strings is on and the
 * client may be sent one: after Request Problem Information 0 only on CONNACK, PUBLISH and DISCONNECT
 * (MQTT-3.1.2-29), and never where it would make the packet larger than the client's
 * Maximum Packet Size (MQTT-3.1.2-25, 3.2.2-19, 3.4.2-2, 3.9.2-1, 3.14.2-3): then the
 * packet goes without it (as `plain` when given).
 */
export function sendWithReasonString(client: ClientContext, packet: Packet, reasonString: string | undefined, plain?: Buffer): void {
  const always = packet.cmd === 'connack' || packet.cmd === 'disconnect';
  // reason_strings is off by default: Mosquitto 2.0 sends no Reason String at all.
  if (!client.broker.options.reasonStrings) reasonString = undefined;
  if (reasonString === undefined || client.protocolVersion !== 5 || (!always && !client.problemInformation)) {
    if (plain !== undefined) client.conn.write(plain);
    else client.conn.send(packet);
    return;
  }
  const props = (packet as { properties?: Record<string, unknown> }).properties;
  const buf = encodePacket({ ...packet, properties: { ...props, reasonString } } as Packet, 5);
  const max = client.maxOutboundPacket;
  if (max === 0 || buf.length <= max) client.conn.write(buf);
  else if (plain !== undefined) client.conn.write(plain);
  else client.conn.send(packet);
}

/** CONNACK accepting a 3.1/3.1.1 client: its four bytes (MQTT-3.2), without the generator. */
export function sendConnackAccepted(client: ClientContext, sessionPresent: boolean): void {
  client.conn.write(sessionPresent ? CONNACK_ACCEPTED_PRESENT : CONNACK_ACCEPTED);
}

/**
 * Whether a packet of `length` bytes is over the client's Maximum Packet Size as Mosquitto
 * 2.0.11 measures it: the remaining length and its own bytes, without the first byte of the
 * fixed header (so a packet one byte over the client's limit still goes; its suite expects
 * that). Such a packet is not sent (MQTT-3.1.2-24).
 */
export function overMaximumPacketSize(client: ClientContext, length: number): boolean {
  const max = client.maxOutboundPacket;
  return max > 0 && length - 1 > max;
}

/**
 * CONNACK as CONNECT built it (MQTT 5 with its properties, or a refusal and why), with the
 * `optional` properties (Response Information) only if it then still fits the client's
 * Maximum Packet Size (MQTT-3.1.2-25). A CONNACK that cannot fit at all is not sent: the
 * connection closes as Mosquitto closes it, "disconnected due to oversize packet". False
 * then.
 */
export function sendConnack(client: ClientContext, connack: ConnackPacket, reasonString?: string, optional?: Record<string, unknown>): boolean {
  let packet = connack;
  if (client.protocolVersion === 5) {
    if (optional !== undefined) {
      const withOptional = { ...connack, properties: { ...connack.properties, ...optional } };
      const max = client.maxOutboundPacket;
      if (max === 0 || encodePacket(withOptional, 5).length <= max) packet = withOptional;
    }
    if (client.maxOutboundPacket > 0 && overMaximumPacketSize(client, encodePacket(packet, 5).length)) {
      client.cause = 'oversize';
      client.close();
      return false;
    }
  }
  sendWithReasonString(client, packet, reasonString);
  return true;
}

/** DISCONNECT from the server (MQTT 5), with a Reason String for an error reason. */
export function sendDisconnect(client: ClientContext, reasonCode: number, reasonString = serverReasonString(reasonCode)): void {
  const log = client.broker.log;
  if (log.enabled(LogType.Debug)) log.debug(`Sending DISCONNECT to ${client.id} (${reasonCode})`);
  sendErrorDisconnect(client, reasonCode, reasonString);
}

/**
 * The DISCONNECT that goes before dropping a client for a bad packet (malformed, protocol
 * error, retain or QoS not supported): Mosquitto 2.0.11 writes no 'Sending DISCONNECT'
 * line for these, only its line for the cause.
 */
export function sendErrorDisconnect(client: ClientContext, reasonCode: number, reasonString = serverReasonString(reasonCode)): void {
  // Without properties, as Mosquitto: the reason code alone (e0 01 rc), no property length.
  sendWithReasonString(client, { cmd: 'disconnect', reasonCode }, reasonString, Buffer.from([0xe0, 0x01, reasonCode]));
}

/** PUBACK, PUBREC or PUBCOMP; a reason code for MQTT 5 only. */
export function sendAck(client: ClientContext, type: 'puback' | 'pubrec' | 'pubcomp', mid: number, reasonCode: number, reasonString?: string): void {
  if (reasonCode === 0 || client.protocolVersion !== 5) {
    client.conn.write(encodeAck(type, mid));
    return;
  }
  // As Mosquitto: the reason code and no property length, which MQTT 5 allows when
  // there are no properties (3.4.2.2.1). Mosquitto sends 0x95 on a PUBACK too.
  const first = type === 'puback' ? 0x40 : type === 'pubrec' ? 0x50 : 0x70;
  const plain = Buffer.from([first, 3, mid >> 8, mid & 0xff, reasonCode]);
  if (reasonCode < 0x80) client.conn.write(plain);
  else sendWithReasonString(client, { cmd: type, messageId: mid, reasonCode }, reasonString ?? serverReasonString(reasonCode), plain);
}

export function sendPubrel(client: ClientContext, mid: number): void {
  const log = client.broker.log;
  if (log.enabled(LogType.Debug)) log.debug(`Sending PUBREL to ${client.id} (m${mid})`);
  client.conn.write(encodeAck('pubrel', mid));
}

/** SUBACK; for MQTT 5 why refused filters were refused, in a Reason String (3.9.2.1.2). */
export function sendSuback(client: ClientContext, mid: number, granted: number[]): void {
  const log = client.broker.log;
  if (log.enabled(LogType.Debug)) log.debug(`Sending SUBACK to ${client.id}`);
  if (client.protocolVersion === 5) sendWithReasonString(client, { cmd: 'suback', messageId: mid, granted }, failureReasonString(granted));
  else client.conn.send({ cmd: 'suback', messageId: mid, granted });
}

/** UNSUBACK: with a reason per filter in MQTT 5, none before. */
export function sendUnsuback(client: ClientContext, mid: number | undefined, reasons: number[]): void {
  const log = client.broker.log;
  if (log.enabled(LogType.Debug)) log.debug(`Sending UNSUBACK to ${client.id}`);
  if (client.protocolVersion === 5) {
    sendWithReasonString(client, { cmd: 'unsuback', messageId: mid, granted: reasons }, failureReasonString(reasons));
  } else {
    client.conn.send({ cmd: 'unsuback', messageId: mid } as never);
  }
}

export function sendPingresp(client: ClientContext): void {
  client.conn.write(PINGRESP);
}

/** AUTH (MQTT 5, 3.15): a step of enhanced authentication. */
export function sendAuth(client: ClientContext, reasonCode: number, method: string, data: Buffer | undefined): void {
  const log = client.broker.log;
  if (log.enabled(LogType.Debug)) log.debug(`Sending AUTH to ${client.id} (rc${reasonCode}, ${method})`);
  const properties: { authenticationMethod: string; authenticationData?: Buffer } = { authenticationMethod: method };
  if (data !== undefined) properties.authenticationData = data;
  client.conn.send({ cmd: 'auth', reasonCode, properties });
}

/** The Reason Strings of the failure codes among `codes` (0x80 and above), each once; undefined if none failed. */
export function failureReasonString(codes: number[]): string | undefined {
  const texts: string[] = [];
  for (const c of codes) {
    const t = serverReasonString(c);
    if (t !== undefined && !texts.includes(t)) texts.push(t);
  }
  return texts.length > 0 ? texts.join('; ') : undefined;
}
