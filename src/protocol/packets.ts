/**
 * The packet shapes of MQTT 3.1, 3.1.1 and 5.0, as mqtt-packet parses and generates them.
 * Everything above this layer speaks these types; nothing above imports mqtt-packet.
 */
import { createRequire } from 'node:module';
import type * as MqttPacketModule from 'mqtt-packet';
import type { PublishProperties, WillProperties } from './properties.js';
import type {
  Packet as MqttPacketUnion,
  IConnectPacket,
  IConnackPacket,
  IPublishPacket,
  IPubackPacket,
  IPubrecPacket,
  IPubrelPacket,
  IPubcompPacket,
  ISubscribePacket,
  ISubackPacket,
  IUnsubscribePacket,
  IUnsubackPacket,
  IPingreqPacket,
  IPingrespPacket,
  IDisconnectPacket,
  IAuthPacket,
  ISubscription,
  UserProperties,
  QoS,
} from 'mqtt-packet';

/**
 * A PUBLISH as our codec decodes and encodes it: mqtt-packet's shape, but MQTT 5 user
 * properties as an ordered list (properties.ts). `frame` is the packet's bytes as they
 * arrived when the broker may write them on unchanged; `storedProperties` the property
 * bytes a receiver gets unchanged (properties.ts, storedPublishProperties).
 */
export interface PublishPacket extends Omit<IPublishPacket, 'properties'> {
  properties?: PublishProperties;
  frame?: Buffer;
  storedProperties?: Buffer;
}

/** CONNECT, its will's properties with user properties in wire order. */
export interface ConnectPacket extends Omit<IConnectPacket, 'will'> {
  will?: Omit<NonNullable<IConnectPacket['will']>, 'properties'> & {
    properties?: WillProperties;
    /** The will's property bytes every receiver gets, in wire order (frame-reader.ts). */
    storedProperties?: Buffer;
  };
}

export type Packet = Exclude<MqttPacketUnion, IPublishPacket | IConnectPacket> | PublishPacket | ConnectPacket;

export type {
  IConnackPacket as ConnackPacket,
  IPubackPacket as PubackPacket,
  IPubrecPacket as PubrecPacket,
  IPubrelPacket as PubrelPacket,
  IPubcompPacket as PubcompPacket,
  ISubscribePacket as SubscribePacket,
  ISubackPacket as SubackPacket,
  IUnsubscribePacket as UnsubscribePacket,
  IUnsubackPacket as UnsubackPacket,
  IPingreqPacket as PingreqPacket,
  IPingrespPacket as PingrespPacket,
  IDisconnectPacket as DisconnectPacket,
  IAuthPacket as AuthPacket,
  ISubscription as Subscription,
  UserProperties,
  QoS,
};

let mqttPacketModule: typeof MqttPacketModule | undefined;

/**
 * mqtt-packet, loaded on first use: a client that only connects, publishes and leaves never
 * needs it (the common packets are encoded and decoded by hand), and loading it is a good
 * part of a short-lived program's start-up.
 */
export function mqttPacket(): typeof MqttPacketModule {
  if (mqttPacketModule === undefined) {
    mqttPacketModule = createRequire(import.meta.url)('mqtt-packet') as typeof MqttPacketModule;
    // Its generator otherwise builds a cache of 65,536 two-byte Buffers on first use:
    // several megabytes of heap and a GC pause.
    (mqttPacketModule.writeToStream as unknown as { cacheNumbers: boolean }).cacheNumbers = false;
  }
  return mqttPacketModule;
}

/** 3 = MQTT 3.1 (MQIsdp), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;


/** Incremental parser over socket chunks: one per connection. */
export interface PacketParser {
  parse(chunk: Buffer): number;
  on(event: 'packet', listener: (packet: Packet) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  settings: { protocolVersion?: number };
}

export function createParser(protocolVersion: ProtocolVersion = 4): PacketParser {
  return mqttPacket().parser({ protocolVersion }) as unknown as PacketParser;
}
