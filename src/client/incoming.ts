/**
 * The receiving side of the client engine: PUBLISH from the server at QoS 0, 1 and 2
 * (QoS 2 held until its PUBREL, MQTT-4.3.3 method B) and the server's topic aliases
 * (MQTT 5, 3.3.2.3.4). MqttClient owns one and hands it those packets; what it sends
 * back (PUBACK, PUBREC, PUBCOMP) goes through the engine's ack sender.
 */
import type { PublishPacket } from '../protocol/index.js';
import type { ClientEvents, ClientOptions } from './client-types.js';
import { publishSummary } from './debug-lines.js';

/** Largest number of QoS 2 messages we hold waiting for PUBREL (the packet id space). */
const MAX_INCOMING_QOS2 = 65535;

export type AckSender = (type: 'puback' | 'pubrec' | 'pubcomp', mid: number) => void;

export class IncomingFlows {
  private readonly qos2 = new Map<number, PublishPacket>();
  private readonly aliases = new Map<number, string>();

  constructor(
    private readonly options: ClientOptions,
    private readonly events: ClientEvents,
    private readonly debug: (text: string) => void,
    private readonly sendAck: AckSender,
  ) {}

  /** A new connection: the server's topic aliases start over (QoS 2 held stays, for the session). */
  connectionStarted(): void {
    this.aliases.clear();
  }

  onPublish(p: PublishPacket): void {
    const v5 = this.options.protocolVersion === 5;
    const alias = p.properties?.topicAlias;
    if (v5 && alias !== undefined) {
      if (p.topic === '') p.topic = this.aliases.get(alias) ?? '';
      else this.aliases.set(alias, p.topic);
    }
    const mid = p.messageId ?? 0;
    if (this.options.debug !== undefined) this.debug(publishSummary('received', p, p.qos === 0 ? 0 : mid));
    if (typeof p.payload === 'string') p.payload = Buffer.from(p.payload);
    if (p.qos === 0) return this.events.onMessage(p);
    if (p.qos === 1) {
      this.debug(`sending PUBACK (m${mid}, rc0)`);
      this.sendAck('puback', mid);
      return this.events.onMessage(p);
    }
    // QoS 2: deliver once, when the sender releases it (MQTT-4.3.3, method B).
    if (this.qos2.size < MAX_INCOMING_QOS2 || this.qos2.has(mid)) this.qos2.set(mid, p);
    this.debug(`sending PUBREC (m${mid}, rc0)`);
    this.sendAck('pubrec', mid);
  }

  onPubrel(mid: number): void {
    this.debug(`received PUBREL (Mid: ${mid})`);
    this.debug(`sending PUBCOMP (m${mid})`);
    this.sendAck('pubcomp', mid);
    const p = this.qos2.get(mid);
    if (p !== undefined) {
      this.qos2.delete(mid);
      this.events.onMessage(p);
    }
  }
}
