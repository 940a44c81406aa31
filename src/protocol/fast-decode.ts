/**
 * Decoders for the packets that make up nearly all of the traffic, read straight from
 * the socket chunk without mqtt-packet: PUBLISH (MQTT-3.3), the four acknowledgements with
 * only a packet id, PINGREQ/PINGRESP and a 3.1.1 CONNACK. Everything else (and anything
 * unusual) goes through mqtt-packet one whole frame at a time (`parseFrame`).
 *
 * Each takes the frame as (buf, start, body, end): the frame's first byte, the first byte
 * after the remaining length, and the end; none allocates more than the packet it returns.
 */
import { createParser, type Packet, type ProtocolVersion, type PublishPacket, type QoS } from './packets.js';
import {
  decodeProperties,
  PropertyError,
  PUBLISH_PROPERTY_IDS,
  readVarint,
  storedPublishProperties,
  WILL_PROPERTY_IDS,
} from './properties.js';

/** Required low nibble of the first byte per packet type (MQTT-2.2.2); -1: type 0 is reserved. */
export const REQUIRED_FLAGS = [-1, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

const EMPTY_PAYLOAD = Buffer.alloc(0);

/**
 * A 3.1/3.1.1 PUBLISH (MQTT-3.3) whose QoS is 0, 1 or 2; undefined when it is too short
 * for its topic and packet id (mqtt-packet then says what is wrong with it).
 */
export function decodePublish(buf: Buffer, start: number, body: number, end: number): Packet | undefined {
  const b0 = buf[start];
  const qos = (b0 >> 1) & 3;
  const rl = end - body;
  if (rl < 2) return undefined;
  const tlen = (buf[body] << 8) | buf[body + 1];
  let p = body + 2 + tlen;
  if (p + (qos > 0 ? 2 : 0) > end) return undefined;
  const topic = buf.toString('utf8', body + 2, p);
  let messageId: number | undefined;
  if (qos > 0) {
    messageId = (buf[p] << 8) | buf[p + 1];
    p += 2;
  }
  const size = end - p;
  // A small payload is copied so that it does not keep a whole socket chunk alive
  // (retained and queued messages live long).
  let payload: Buffer;
  if (size * 4 >= buf.length) payload = buf.subarray(p, end);
  else {
    payload = Buffer.allocUnsafe(size);
    buf.copy(payload, 0, p, end);
  }
  const packet = { cmd: 'publish', topic, payload, qos: qos as QoS, retain: (b0 & 1) === 1, dup: (b0 & 8) !== 0, messageId, length: rl };
  // A plain QoS 0 PUBLISH is byte for byte what a subscriber of the same protocol
  // version gets: the broker may write these bytes on as they are.
  if (b0 === 0x30) (packet as { frame?: Buffer }).frame = buf.subarray(start, end);
  return packet as Packet;
}

/**
 * An MQTT 5 PUBLISH (MQTT-3.3.2): topic, packet id, properties (user properties in wire
 * order, and the bytes a receiver gets unchanged), payload. Throws PropertyError when
 * malformed.
 */
export function decodePublishV5(buf: Buffer, start: number, body: number, end: number): PublishPacket {
  const b0 = buf[start];
  const qos = (b0 >> 1) & 3;
  if (body + 2 > end) throw new PropertyError('Malformed packet');
  let p = body + 2 + ((buf[body] << 8) | buf[body + 1]);
  if (p + (qos > 0 ? 2 : 0) > end) throw new PropertyError('Malformed packet');
  const topic = buf.toString('utf8', body + 2, p);
  let messageId: number | undefined;
  if (qos > 0) {
    messageId = (buf[p] << 8) | buf[p + 1];
    p += 2;
  }
  // The property length nearly always fits one byte: no tuple for it on the message path.
  let propLen: number;
  if (p < end && buf[p] < 0x80) propLen = buf[p++];
  else [propLen, p] = readVarint(buf, p, end);
  const propEnd = p + propLen;
  if (propEnd > end) throw new PropertyError('Malformed packet');
  const packet: PublishPacket = {
    cmd: 'publish',
    topic,
    payload: EMPTY_PAYLOAD,
    qos: qos as QoS,
    retain: (b0 & 1) === 1,
    dup: (b0 & 8) !== 0,
    length: end - body,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  let plain = true;
  if (propLen > 0) {
    packet.properties = decodeProperties(buf, p, propEnd, PUBLISH_PROPERTY_IDS);
    const stored = storedPublishProperties(buf, p, propEnd);
    // Copied: it lives as long as the message, the socket chunk should not.
    packet.storedProperties = Buffer.from(stored);
    plain = stored.length === propLen;
  }
  const size = end - propEnd;
  if (size * 4 >= buf.length) packet.payload = buf.subarray(propEnd, end);
  else {
    const payload = Buffer.allocUnsafe(size);
    buf.copy(payload, 0, propEnd, end);
    packet.payload = payload;
  }
  // A plain QoS 0 PUBLISH without per-hop properties is what a subscriber gets.
  if (b0 === 0x30 && plain) packet.frame = buf.subarray(start, end);
  return packet;
}

/**
 * The small fixed-shape packets: PUBACK, PUBREC, PUBCOMP, PUBREL with only a packet id
 * (reason 0 in MQTT 5), PINGREQ, PINGRESP, a DISCONNECT without a body, and a 3.1/3.1.1
 * CONNACK (MQTT-3.2: a client that only publishes never loads mqtt-packet). Undefined for
 * anything else.
 */
export function decodeSmall(buf: Buffer, b0: number, body: number, rl: number, version: ProtocolVersion): Packet | undefined {
  if (rl === 2 && (b0 === 0x40 || b0 === 0x50 || b0 === 0x70 || b0 === 0x62)) {
    const messageId = (buf[body] << 8) | buf[body + 1];
    const cmd = b0 === 0x40 ? 'puback' : b0 === 0x50 ? 'pubrec' : b0 === 0x70 ? 'pubcomp' : 'pubrel';
    return { cmd, messageId, length: 2 } as Packet;
  }
  if (b0 === 0xc0 && rl === 0) return { cmd: 'pingreq', length: 0 } as Packet;
  if (b0 === 0xd0 && rl === 0) return { cmd: 'pingresp', length: 0 } as Packet;
  // DISCONNECT without a body: how nearly every client leaves (MQTT 5: reason 0, no properties).
  if (b0 === 0xe0 && rl === 0) {
    return (version === 5 ? { cmd: 'disconnect', reasonCode: 0, length: 0 } : { cmd: 'disconnect', length: 0 }) as Packet;
  }
  if (b0 === 0x20 && rl === 2 && version !== 5 && (buf[body] & 0xfe) === 0) {
    return { cmd: 'connack', sessionPresent: buf[body] === 1, returnCode: buf[body + 1], length: 2 } as Packet;
  }
  return undefined;
}

/**
 * The will properties of an MQTT 5 CONNECT frame (MQTT-3.1.3.2): decoded in wire order, and
 * the bytes a receiver of the will gets (the will delay and other per-hop properties left
 * out, the rest in wire order, as Mosquitto keeps them). Throws PropertyError.
 */
export function willPropertiesOf(frame: Buffer): { properties: Record<string, unknown>; stored: Buffer } | undefined {
  const end = frame.length;
  let pos = readVarint(frame, 1, end)[1];
  pos += 2 + frame.readUInt16BE(pos); // protocol name
  const flags = frame[pos + 1];
  pos += 4; // level, flags, keep alive
  if ((flags & 0x04) === 0) return undefined;
  let len: number;
  [len, pos] = readVarint(frame, pos, end);
  pos += len; // CONNECT properties
  pos += 2 + frame.readUInt16BE(pos); // client id
  [len, pos] = readVarint(frame, pos, end);
  if (pos + len > end) throw new PropertyError('Malformed packet');
  const properties = decodeProperties(frame, pos, pos + len, WILL_PROPERTY_IDS);
  return { properties, stored: Buffer.from(storedPublishProperties(frame, pos, pos + len)) };
}

/**
 * The protocol level byte of a CONNECT at the start of `b`, or -1, for the log line about
 * an unsupported level (mqtt-packet rejects the packet without telling it).
 */
export function connectLevelOf(b: Buffer): number {
  let pos = 1;
  while (pos < b.length && b[pos] & 0x80) pos++;
  pos++;
  if (pos + 2 > b.length) return -1;
  pos += 2 + ((b[pos] << 8) | b[pos + 1]);
  return pos < b.length ? b[pos] : -1;
}

/**
 * The packets not decoded above go through a fresh mqtt-packet parser, one whole frame at
 * a time: CONNECT, SUBSCRIBE and the like are rare next to PUBLISH, and an idle connection
 * then holds no parser at all. (A parser is not shared: mqtt-packet keeps state in it, the
 * CONNECT it parsed among other things.)
 */
let parsedPacket: Packet | undefined;
let parseError: Error | undefined;

function parseInto(frame: Buffer, version: ProtocolVersion): void {
  const parser = createParser(version);
  parser.on('packet', (packet: Packet) => {
    parsedPacket = packet;
    // MQTT-3.1.3: a CONNECT's payload is exactly what its flags announce. Bytes left over
    // (a username or password whose flag is 0) make it malformed, as Mosquitto has it;
    // mqtt-packet ignores them. Its read position is still at the end of what it read.
    if (packet.cmd === 'connect' && (parser as unknown as { _pos: number })._pos !== packet.length) {
      parseError ??= new Error('Malformed CONNECT: bytes after its payload');
    }
  });
  parser.on('error', (err: Error) => {
    parseError ??= err;
  });
  parser.parse(frame);
}

/** The error for a packet whose two-byte packet identifier is not all there. */
export const PACKET_ID_MISSING = 'Packet identifier missing';

/** One whole frame through mqtt-packet: the packet, or the error it reports. */
export function parseFrame(frame: Buffer, version: ProtocolVersion): Packet | Error {
  parsedPacket = undefined;
  parseError = undefined;
  parseInto(frame, version);
  const packet = parsedPacket as Packet | undefined;
  const err = parseError as Error | undefined;
  parsedPacket = undefined;
  parseError = undefined;
  if (err !== undefined) return err;
  // A whole frame the parser could not finish: its own length accounting disagrees.
  if (packet === undefined) return new Error('Malformed packet');
  // A packet identifier cut short (a PUBREL of remaining length 0 or 1): mqtt-packet
  // reads it as -1 and lets it through (its check looks for null). Found by fuzzing.
  if ((packet as { messageId?: number }).messageId === -1) return new Error(PACKET_ID_MISSING);
  return packet;
}
