/**
 * What a caller of the client engine (mqtt-client.ts) gives it and hears from it: the
 * connection options, the will, and the event callbacks.
 */
import type { ConnackPacket, ConnectPacket, DisconnectPacket, ProtocolVersion, PublishPacket, QoS } from '../protocol/index.js';

export type ConnectProperties = NonNullable<ConnectPacket['properties']>;
export type PublishProperties = NonNullable<PublishPacket['properties']>;
export type DisconnectProperties = NonNullable<DisconnectPacket['properties']>;
export type WillProperties = NonNullable<NonNullable<ConnectPacket['will']>['properties']>;

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface ClientOptions {
  /** '' lets the server assign one (3.1.1 and 5.0). */
  clientId: string;
  protocolVersion: ProtocolVersion;
  /** Seconds; 0 disables keepalive. */
  keepalive: number;
  clean: boolean;
  username?: string;
  password?: Buffer;
  will?: WillMessage;
  connectProperties?: ConnectProperties;
  /** Outgoing QoS 1/2 messages awaiting acknowledgement at once. */
  maxInflight: number;
  /** Receives Mosquitto-style debug lines when set. */
  debug?: (line: string) => void;
  /**
   * Bridges (try_private): the protocol level byte of CONNECT goes out with its top bit
   * set (0x83, 0x84), telling a Mosquitto-compatible server that this client is a bridge.
   */
  bridgeMode?: boolean;
  /**
   * Bridges: at CONNACK the messages in flight from the previous connection are not sent
   * again by the engine; the caller sends what it owes first (its SUBSCRIBEs) and then calls
   * resendInflight(), the order in which Mosquitto's bridges write them.
   */
  deferResend?: boolean;
  /** Bridges: a PINGREQ from the server is answered with PINGRESP, as Mosquitto's bridges do. */
  answerPingreq?: boolean;
}

export interface ClientEvents {
  /** CONNACK arrived; `code` is the 3.1.1 return code or the MQTT 5 reason code. */
  onConnect(code: number, sessionPresent: boolean, properties: ConnackPacket['properties']): void;
  onMessage(packet: PublishPacket): void;
  /**
   * A QoS 0 message was written, or a QoS 1/2 flow completed. `properties` are those of the
   * PUBACK or PUBCOMP that ended it (its Reason String, say); libmosquitto drops a PUBREC's.
   */
  onPublish?(mid: number, reasonCode: number, properties?: { reasonString?: string }): void;
  /**
   * A QoS 2 message reached its second half: PUBREC arrived and PUBREL is about to go out.
   * From here on it must not be sent again as a PUBLISH (MQTT-4.3.3), so a bridge that
   * journals its flows records it now.
   */
  onPubrec?(mid: number): void;
  onSubscribe?(mid: number, granted: number[]): void;
  onUnsubscribe?(mid: number): void;
  /** The server sent DISCONNECT (MQTT 5). */
  onServerDisconnect?(reasonCode: number, properties: DisconnectPacket['properties']): void;
  /** The connection is gone. `expected` is true after our own disconnect(). */
  onClose(expected: boolean, err: Error | undefined): void;
}

