/**
 * Hand-written PUBLISH encoding for the fan-out hot path: a message is encoded once per
 * distinct (protocol version, QoS, retain, properties) and the same Buffer is written to
 * every subscriber; for QoS 1/2 a copy gets its two packet-id bytes patched.
 * MQTT 5 PUBLISH properties are written here too, user properties in their order
 * (properties.ts).
 */
import type { ProtocolVersion, QoS } from './packets.js';
import { encodeProperties, type PublishProperties, varintSize, writeVarint } from './properties.js';

/** Largest remaining length MQTT can express (MQTT-2.2.3). */
export const MAX_REMAINING_LENGTH = 268435455;

export function encodePublish(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  messageId: number,
  version: ProtocolVersion,
  properties?: PublishProperties,
): Buffer {
  if (version === 5 && properties !== undefined) {
    return encodePublishV5(topic, payload, qos, retain, dup, messageId, encodeProperties(properties as Record<string, unknown>));
  }
  const topicLen = Buffer.byteLength(topic);
  const propsLen = version === 5 ? 1 : 0;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + propsLen + payload.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  let pos = writeHead(buf, topic, topicLen, qos, retain, dup, messageId, remaining);
  if (version === 5) buf[pos++] = 0;
  payload.copy(buf, pos);
  return buf;
}

/**
 * An MQTT 5 PUBLISH whose property bytes are given (MQTT-3.3.2.3): `before`, `props` and
 * `after` are written in that order, so that a forwarded message keeps its publisher's
 * properties byte for byte between the per-hop ones (subscription identifiers first,
 * message expiry and topic alias last, where Mosquitto puts them).
 */
export function encodePublishV5(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  messageId: number,
  props: Buffer,
  before?: Buffer,
  after?: Buffer,
): Buffer {
  const topicLen = Buffer.byteLength(topic);
  const propLen = props.length + (before !== undefined ? before.length : 0) + (after !== undefined ? after.length : 0);
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + varintSize(propLen) + propLen + payload.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  let pos = writeHead(buf, topic, topicLen, qos, retain, dup, messageId, remaining);
  pos = writeVarint(buf, pos, propLen);
  if (before !== undefined) pos += before.copy(buf, pos);
  pos += props.copy(buf, pos);
  if (after !== undefined) pos += after.copy(buf, pos);
  payload.copy(buf, pos);
  return buf;
}

/**
 * Fixed header, topic name and packet identifier (QoS > 0) of a PUBLISH (MQTT-3.3.1,
 * 3.3.2); returns where the properties or the payload go.
 */
function writeHead(
  buf: Buffer,
  topic: string,
  topicLen: number,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  messageId: number,
  remaining: number,
): number {
  buf[0] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = writeVarint(buf, 1, remaining);
  buf[pos++] = topicLen >> 8;
  buf[pos++] = topicLen & 0xff;
  pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) {
    buf[pos++] = messageId >> 8;
    buf[pos++] = messageId & 0xff;
  }
  return pos;
}

/** Offset of the packet identifier in an encoded QoS>0 PUBLISH. */
export function publishIdOffset(buf: Buffer): number {
  let pos = 1;
  while (buf[pos] & 0x80) pos++;
  pos++;
  const topicLen = (buf[pos] << 8) | buf[pos + 1];
  return pos + 2 + topicLen;
}

/** A copy of an encoded QoS>0 PUBLISH with another packet id and DUP flag. */
export function withMessageId(buf: Buffer, idOffset: number, messageId: number, dup: boolean): Buffer {
  const copy = Buffer.allocUnsafe(buf.length);
  buf.copy(copy);
  copy[idOffset] = messageId >> 8;
  copy[idOffset + 1] = messageId & 0xff;
  if (dup) copy[0] |= 8;
  else copy[0] &= ~8;
  return copy;
}

/** PUBACK/PUBREC/PUBREL/PUBCOMP with reason 0 and no properties: four bytes (MQTT-3.4.2.1). */
export function encodeAck(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = type === 'puback' ? 0x40 : type === 'pubrec' ? 0x50 : type === 'pubrel' ? 0x62 : 0x70;
  buf[1] = 2;
  buf[2] = messageId >> 8;
  buf[3] = messageId & 0xff;
  return buf;
}
