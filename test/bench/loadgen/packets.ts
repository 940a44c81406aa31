// Packets are encoded once, up front, with mqtt-packet; per message the generator only
// copies a template and patches the packet identifier and the send timestamp, so that the
// generator stays cheaper than the broker it drives.
import mqttPacket from 'mqtt-packet';
import type { Qos } from '../protocol.js';

/** Payload layout: [0..7] send time (performance.now(), float64 LE), [8..11] publisher index. */
export const STAMP_TIME = 0;
export const STAMP_PUBLISHER = 8;
export const MIN_PAYLOAD = 16;

export interface PublishTemplate {
  buf: Buffer;
  qos: Qos;
  /** Offset of the two packet-identifier bytes (QoS 1 and 2 only). */
  idOffset: number;
  payloadOffset: number;
}

/** Length of the fixed header (type byte plus remaining-length varint). MQTT-2.2.3 */
export function fixedHeaderLength(buf: Buffer, off: number, end: number): number {
  let i = off + 1;
  for (let n = 0; n < 4; n++, i++) {
    if (i >= end) return -1;
    if ((buf[i]! & 0x80) === 0) return i + 1 - off;
  }
  throw new Error('malformed remaining length');
}

export function publishTemplate(
  topic: string,
  payloadSize: number,
  qos: Qos,
  publisher: number,
  retain = false,
): PublishTemplate {
  const payload = Buffer.alloc(Math.max(payloadSize, MIN_PAYLOAD), 0x61);
  payload.writeUInt32LE(publisher, STAMP_PUBLISHER);
  const buf = mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    messageId: qos > 0 ? 1 : undefined,
  });
  const hdr = fixedHeaderLength(buf, 0, buf.length);
  const idOffset = hdr + 2 + buf.readUInt16BE(hdr);
  return { buf, qos, idOffset, payloadOffset: idOffset + (qos > 0 ? 2 : 0) };
}

export function connectPacket(opts: {
  clientId: string;
  clean: boolean;
  keepalive: number;
  username?: string;
  password?: string;
}): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: opts.clean,
    clientId: opts.clientId,
    keepalive: opts.keepalive,
    username: opts.username,
    password: opts.password === undefined ? undefined : Buffer.from(opts.password),
  });
}

export function subscribePacket(messageId: number, filters: string[], qos: Qos): Buffer {
  return mqttPacket.generate({
    cmd: 'subscribe',
    messageId,
    subscriptions: filters.map((topic) => ({ topic, qos })),
  });
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Fixed-header byte of the two-byte acknowledgements. MQTT-3.4 .. 3.7 */
export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62; // bit 1 set: MQTT-3.6.1-1
export const PUBCOMP = 0x70;
