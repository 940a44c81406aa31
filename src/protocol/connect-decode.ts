/**
 * CONNECT at MQTT 3.1 and 3.1.1 (MQTT-3.1), read by hand straight from the frame: a
 * connect storm of devices is mostly these, and mqtt-packet's parser costs a parser
 * object, its BufferList and its events per packet. The result is the packet mqtt-packet
 * would give (the same fields and values); anything this does not read with certainty
 * (MQTT 5, a malformed or short packet, bytes left over) is undefined, and the caller
 * hands the frame to mqtt-packet, whose verdicts and error words stay the reference.
 */
import type { ConnectPacket } from './packets.js';

/** "MQTT" and "MQIsdp" as they appear after their two length bytes. */
function isMqtt(b: Buffer, p: number): boolean {
  return b[p] === 0x4d && b[p + 1] === 0x51 && b[p + 2] === 0x54 && b[p + 3] === 0x54;
}
function isMqisdp(b: Buffer, p: number): boolean {
  return b[p] === 0x4d && b[p + 1] === 0x51 && b[p + 2] === 0x49 && b[p + 3] === 0x73 && b[p + 4] === 0x64 && b[p + 5] === 0x70;
}

/** Where the length-prefixed field at `p` ends, or -1 when it runs past `end`. */
function fieldEnd(buf: Buffer, p: number, end: number): number {
  if (p + 2 > end) return -1;
  const e = p + 2 + ((buf[p] << 8) | buf[p + 1]);
  return e > end ? -1 : e;
}

/**
 * The CONNECT whose variable header starts at `body` and which ends at `end`, or
 * undefined when mqtt-packet should read it.
 */
export function decodeConnect(buf: Buffer, body: number, end: number): ConnectPacket | undefined {
  let p = body;
  if (p + 2 > end) return undefined;
  const idLen = (buf[p] << 8) | buf[p + 1];
  p += 2;
  let protocolId: string;
  if (idLen === 4 && p + 4 <= end && isMqtt(buf, p)) protocolId = 'MQTT';
  else if (idLen === 6 && p + 6 <= end && isMqisdp(buf, p)) protocolId = 'MQIsdp';
  else return undefined;
  p += idLen;
  if (p + 4 > end) return undefined;
  let level = buf[p++];
  let bridgeMode = false;
  if (level >= 128) {
    bridgeMode = true;
    level -= 128;
  }
  // MQTT 5 (properties) and unknown levels: mqtt-packet.
  if (level !== 3 && level !== 4) return undefined;
  const flags = buf[p++];
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  // Reserved bit set (MQTT-3.1.2-3), will QoS or retain without a will: mqtt-packet's errors.
  if ((flags & 0x01) !== 0 || (!hasWill && (willQos !== 0 || willRetain))) return undefined;
  const keepalive = (buf[p] << 8) | buf[p + 1];
  p += 2;

  // Each field is a two-byte length and its bytes (MQTT-1.5.3, 1.5.6).
  let e = fieldEnd(buf, p, end);
  if (e < 0) return undefined;
  const clientId = buf.toString('utf8', p + 2, e);
  p = e;

  let will: ConnectPacket['will'];
  if (hasWill) {
    e = fieldEnd(buf, p, end);
    if (e < 0) return undefined;
    const topic = buf.toString('utf8', p + 2, e);
    p = e;
    e = fieldEnd(buf, p, end);
    if (e < 0) return undefined;
    // A copy: the will lives as long as the connection, the chunk it came in need not.
    const payload = Buffer.from(buf.subarray(p + 2, e));
    p = e;
    will = { retain: willRetain, qos: willQos as 0 | 1 | 2, topic, payload };
  }
  let username: string | undefined;
  if ((flags & 0x80) !== 0) {
    e = fieldEnd(buf, p, end);
    if (e < 0) return undefined;
    username = buf.toString('utf8', p + 2, e);
    p = e;
  }
  let password: Buffer | undefined;
  if ((flags & 0x40) !== 0) {
    e = fieldEnd(buf, p, end);
    if (e < 0) return undefined;
    password = Buffer.from(buf.subarray(p + 2, e));
    p = e;
  }
  // Bytes after the last field: left to mqtt-packet's judgement.
  if (p !== end) return undefined;

  const packet = {
    cmd: 'connect',
    retain: false,
    qos: 0,
    dup: false,
    length: end - body,
    topic: null,
    payload: null,
    protocolId,
    protocolVersion: level,
    clean: (flags & 0x02) !== 0,
    keepalive,
    clientId,
  } as unknown as ConnectPacket & { bridgeMode?: boolean };
  if (bridgeMode) packet.bridgeMode = true;
  if (will !== undefined) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  return packet;
}
