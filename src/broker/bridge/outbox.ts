/**
 * Messages for the remote broker held while the bridge is not connected: the bridge's
 * local session in Mosquitto's terms. Bounded by max_queued_messages and max_queued_bytes
 * like any client's queue; what does not fit is dropped and counted. Under persistence the
 * QoS 1/2 ones are also in the bridge's Session (its queue), which the journal records.
 */
import type { QoS } from '../../protocol/index.js';
import type { PublishProperties } from '../../client/mqtt-client.js';
import type { Message } from '../message.js';
import type { Outgoing } from '../core.js';

export interface HeldMessage {
  /** The remote topic, already remapped. */
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties | undefined;
  /** Unix ms after which it is not sent (MQTT 5 message expiry), 0 for never. */
  expiresAt: number;
  /** Its entry in the bridge's persisted session (QoS 1/2 under persistence), if any. */
  out?: Outgoing;
  /** In flight under this packet id before a restart: sent again with it, DUP set. */
  resendMid?: number;
  /** QoS 2 restored after its PUBREC: it continues with PUBREL, never as a PUBLISH again. */
  released?: boolean;
}

/** The limits an Outbox obeys, read at each push so that a SIGHUP's new values apply at once. */
export interface OutboxLimits {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
}

export class Outbox {
  private items: HeldMessage[] = [];
  bytes = 0;
  dropped = 0;

  /** @param limits the broker's live options (max_queued_messages, max_queued_bytes), not a copy. */
  constructor(private readonly limits: OutboxLimits) {}

  get length(): number {
    return this.items.length;
  }

  /** False when the message does not fit (0 limits mean none). */
  push(m: HeldMessage): boolean {
    const maxMessages = this.limits.maxQueuedMessages;
    const maxBytes = this.limits.maxQueuedBytes;
    if ((maxMessages > 0 && this.items.length >= maxMessages) || (maxBytes > 0 && this.bytes >= maxBytes)) {
      this.dropped++;
      return false;
    }
    this.items.push(m);
    this.bytes += m.payload.length;
    return true;
  }

  /** Puts back a message restored from persistence: what was acknowledged locally is kept regardless of the limits. */
  restore(m: HeldMessage): void {
    this.items.push(m);
    this.bytes += m.payload.length;
  }

  /** Takes every held message, oldest first. */
  drain(): HeldMessage[] {
    const out = this.items;
    this.items = [];
    this.bytes = 0;
    return out;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
  }
}

/** A local message's MQTT 5 properties as sent on: no alias or subscription identifier, the expiry that is left. */
export function outgoingProperties(msg: Message): PublishProperties | undefined {
  const p = msg.properties;
  if (p === undefined && msg.expiresAt === 0) return undefined;
  const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = (p ?? {}) as PublishProperties;
  const out: PublishProperties = rest;
  if (msg.expiresAt !== 0) out.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - Date.now()) / 1000));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Size of the PUBLISH packet (MQTT 5 properties left out of the estimate). */
export function publishSize(m: HeldMessage, version: number): number {
  const rem = 2 + Buffer.byteLength(m.topic) + (m.qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + m.payload.length;
  const lenBytes = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
  return 1 + lenBytes + rem;
}
