/**
 * The CONNECT a client sends (MQTT-3.1), built from its options; and, for bridges, the
 * same packet with the bridge bit set on its protocol level byte.
 */
import { encodePacket, type ConnectPacket, type ProtocolVersion } from '../protocol/index.js';
import type { ClientOptions } from './client-types.js';

export function connectPacketOf(o: ClientOptions): ConnectPacket {
  const packet: ConnectPacket = {
    cmd: 'connect',
    protocolId: o.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: o.protocolVersion,
    clean: o.clean,
    clientId: o.clientId,
    keepalive: o.keepalive,
  };
  if (o.username !== undefined) packet.username = o.username;
  if (o.password !== undefined) packet.password = o.password;
  if (o.will !== undefined) {
    packet.will = { topic: o.will.topic, payload: o.will.payload, qos: o.will.qos, retain: o.will.retain };
    if (o.protocolVersion === 5 && o.will.properties !== undefined) packet.will.properties = o.will.properties;
  }
  if (o.protocolVersion === 5 && o.connectProperties !== undefined) packet.properties = o.connectProperties;
  return packet;
}

/**
 * CONNECT encoded with the bridge bit (0x80) on the protocol level byte, after the fixed
 * header and protocol name (try_private: 0x83, 0x84 tell a Mosquitto-compatible server
 * that this client is a bridge).
 */
export function bridgeConnectBytes(packet: ConnectPacket, version: ProtocolVersion): Buffer {
  const buf = encodePacket(packet, version);
  let pos = 1;
  while (buf[pos] & 0x80) pos++;
  pos++;
  pos += 2 + buf.readUInt16BE(pos);
  buf[pos] |= 0x80;
  return buf;
}
