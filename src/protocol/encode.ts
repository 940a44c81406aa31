/**
 * Encoding any packet: the hand-written encoders where they apply (simple-encoder.ts),
 * mqtt-packet's generator otherwise. Apart from packets.ts so that the encoders can use
 * its types without an import cycle.
 */
import type { Packet as MqttPacketUnion } from 'mqtt-packet';
import { mqttPacket, type Packet, type ProtocolVersion } from './packets.js';
import { userPropertyObject, type UserProperty } from './properties.js';
import { encodeSimple } from './simple-encoder.js';

/** Encode any packet. Not used for PUBLISH fan-out on the hot path (see publish-encoder.ts). */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  const quick = encodeSimple(packet, protocolVersion);
  if (quick !== undefined) return quick;
  const props = (packet as { properties?: { userProperties?: unknown } }).properties;
  if (props !== undefined && Array.isArray(props.userProperties)) {
    // mqtt-packet takes user properties grouped by name (packets other than PUBLISH and
    // CONNECT, which simple-encoder.ts writes in order).
    const copy = { ...packet, properties: { ...props, userProperties: userPropertyObject(props.userProperties as UserProperty[]) } };
    return mqttPacket().generate(copy as MqttPacketUnion, { protocolVersion }) as Buffer;
  }
  return mqttPacket().generate(packet as MqttPacketUnion, { protocolVersion }) as Buffer;
}
