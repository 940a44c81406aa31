/**
 * Hand encoding of the packets a short-lived client sends most (CONNECT, PUBLISH,
 * DISCONNECT, PINGREQ and the acknowledgements, MQTT 3.1/3.1.1), byte for byte as
 * mqtt-packet encodes them, so that such a client never loads mqtt-packet. MQTT 5 CONNECT
 * and PUBLISH are written here too, so that user properties go out in the order given
 * (properties.ts); the other MQTT 5 packets go through mqtt-packet (but PINGREQ).
 */
import type { Packet } from './packets.js';
import { encodePublish } from './publish-encoder.js';
import { encodeProperties, varintSize, writeVarint } from './properties.js';

const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

export function encodeSimple(packet: Packet, version: number): Buffer | undefined {
  switch (packet.cmd) {
    case 'pingreq':
      return Buffer.from(PINGREQ);
    case 'disconnect':
      return version === 5 ? undefined : Buffer.from(DISCONNECT);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      if (version === 5) return undefined;
      const id = packet.messageId ?? 0;
      const type = packet.cmd === 'puback' ? 0x40 : packet.cmd === 'pubrec' ? 0x50 : packet.cmd === 'pubrel' ? 0x62 : 0x70;
      return Buffer.from([type, 2, id >> 8, id & 0xff]);
    }
    case 'connect':
      return encodeConnect(packet);
    case 'publish': {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      if (version === 5) {
        // MQTT 5: the property length is there even when zero (MQTT-3.3.2.3).
        return encodePublish(packet.topic, payload, packet.qos, packet.retain, packet.dup, packet.messageId ?? 0, 5, packet.properties ?? {});
      }
      return encodePublish(packet.topic, payload, packet.qos, packet.retain, packet.dup, packet.messageId ?? 0, version === 3 ? 3 : 4);
    }
    default:
      return undefined;
  }
}

/** CONNECT for 3.1 / 3.1.1 / 5.0 (MQTT-3.1.2, MQTT-3.1.3). */
function encodeConnect(p: Extract<Packet, { cmd: 'connect' }>): Buffer | undefined {
  const level = p.protocolVersion ?? 4;
  const v5 = level === 5;
  if (!v5 && (p.properties !== undefined || p.will?.properties !== undefined)) return undefined;
  const name = p.protocolId ?? 'MQTT';
  const strings: (string | Buffer)[] = [p.clientId ?? ''];
  let flags = p.clean !== false ? 0x02 : 0;
  // MQTT 5: the CONNECT properties after the keep alive, the will properties before the will topic.
  const props = v5 ? encodeProperties(p.properties as Record<string, unknown> | undefined) : undefined;
  let willProps: Buffer | undefined;
  if (p.will !== undefined) {
    flags |= 0x04 | ((p.will.qos ?? 0) << 3) | (p.will.retain ? 0x20 : 0);
    if (v5) willProps = encodeProperties(p.will.properties as Record<string, unknown> | undefined);
    strings.push(p.will.topic, typeof p.will.payload === 'string' ? Buffer.from(p.will.payload) : p.will.payload);
  }
  if (p.username !== undefined) {
    flags |= 0x80;
    strings.push(p.username);
  }
  if (p.password !== undefined) {
    flags |= 0x40;
    strings.push(p.password);
  }
  const parts = strings.map((x) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x));
  let remaining = 2 + name.length + 1 + 1 + 2;
  for (const b of parts) remaining += 2 + b.length;
  if (props !== undefined) remaining += varintSize(props.length) + props.length;
  if (willProps !== undefined) remaining += varintSize(willProps.length) + willProps.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  buf[0] = 0x10;
  let pos = writeVarint(buf, 1, remaining);
  buf.writeUInt16BE(name.length, pos);
  pos += 2;
  pos += buf.write(name, pos, 'latin1');
  buf[pos++] = level;
  buf[pos++] = flags;
  buf.writeUInt16BE(p.keepalive ?? 0, pos);
  pos += 2;
  if (props !== undefined) {
    pos = writeVarint(buf, pos, props.length);
    pos += props.copy(buf, pos);
  }
  for (let i = 0; i < parts.length; i++) {
    const b = parts[i];
    if (i === 1 && willProps !== undefined) {
      pos = writeVarint(buf, pos, willProps.length);
      pos += willProps.copy(buf, pos);
    }
    buf.writeUInt16BE(b.length, pos);
    pos += 2;
    b.copy(buf, pos);
    pos += b.length;
  }
  return buf;
}
