/**
 * A bridge's outgoing side: local messages on its `out` and `both` topics on their way to
 * the remote broker. Each is remapped and given its MQTT 5 properties, then sent through
 * the client engine while the bridge is connected, or held (the outbox, and the journaled
 * session under persistence) while it is not; what the remote's maximum packet size or
 * max_queued_messages does not let through is dropped and counted. On each connect what
 * was held goes out, then the local retained messages on the out topics.
 */
import type { QoS } from '../../protocol/index.js';
import type { MqttClient } from '../../client/mqtt-client.js';
import type { BridgeConfig } from '../config/types.js';
import type { BrokerCore } from '../core.js';
import { LogType } from '../log.js';
import type { Message } from '../message.js';
import type { BridgeLog } from './bridge-log.js';
import type { BridgeSession } from './bridge-session.js';
import { Outbox, outgoingProperties, publishSize, type HeldMessage } from './outbox.js';
import { localSubscriptions, toRemote, type TopicMap } from './topic-map.js';

/** What the outgoing side needs of its bridge. */
export interface OutgoingLink {
  /** 'connected': messages go now; 'stopped': they are dropped; otherwise held. */
  readonly state: string;
  /** local_cleansession (else cleansession): nothing is held while not connected. */
  readonly localClean: boolean;
  /** A message went to the remote broker (a lazy bridge's idle_timeout counts from it). */
  touch(): void;
  /** A lazy bridge holds enough messages: it connects. */
  connect(): void;
}

export class BridgeOutgoing {
  readonly outbox: Outbox;
  /** The local session under persistence (cleansession false): what is held and in flight, journaled. */
  persisted: BridgeSession | undefined;
  /** The client engine of the current connection, set at each CONNACK. */
  private client: MqttClient | undefined;
  /** Largest PUBLISH the remote takes (bridge_max_packet_size, MQTT 5 Maximum Packet Size), 0 for any. */
  private maxPacket = 0;
  private dropWarned = false;

  constructor(
    private readonly broker: BrokerCore,
    private readonly config: BridgeConfig,
    private readonly map: TopicMap,
    private readonly version: 3 | 4 | 5,
    private readonly lines: BridgeLog,
    private readonly link: OutgoingLink,
  ) {
    this.outbox = new Outbox(broker.options);
  }

  private get clientId(): string {
    return this.config.localClientid;
  }

  /** What the last run left in the journaled session: in flight (sent again under its ids), then queued. */
  restore(persisted: BridgeSession): void {
    this.persisted = persisted;
    const { inflight, queued } = persisted.restored();
    for (const out of inflight) {
      this.outbox.restore({ ...this.held(out.msg, out.qos, out.retain), out, resendMid: out.mid, released: out.state === 1 });
    }
    for (const out of queued) this.outbox.restore({ ...this.held(out.msg, out.qos, out.retain), out });
  }

  /** The remote accepted the bridge: new messages go to `client`, no larger than `maxPacket` (0: any). */
  connected(client: MqttClient, maxPacket: number): void {
    this.client = client;
    this.maxPacket = maxPacket;
  }

  /** After the SUBSCRIBEs and what was in flight: what was held, then the local retained messages. */
  sendHeld(): void {
    const now = Date.now();
    for (const m of this.outbox.drain()) {
      const out = m.out;
      if (out !== undefined && m.resendMid === undefined) this.persisted!.unqueued(out);
      if (m.expiresAt === 0 || m.expiresAt > now) this.send(m);
      else if (out !== undefined) this.persisted!.dropped(out);
    }
    this.dropWarned = false;
    this.forwardRetained();
  }

  /** The local retained messages on the out topics go to the remote broker on each connect, as with Mosquitto. */
  private forwardRetained(): void {
    const seen = new Set<string>();
    for (const s of localSubscriptions(this.config.topics)) {
      for (const msg of this.broker.retained.match(s.topic)) {
        if (seen.has(msg.topic) || msg.from === this.clientId) continue;
        seen.add(msg.topic);
        this.forward(msg, (msg.qos < s.qos ? msg.qos : s.qos) as QoS);
      }
    }
  }

  /** A local message as it goes to the remote broker: remapped, its MQTT 5 properties recomputed. */
  private held(msg: Message, qos: QoS, retain: boolean): HeldMessage {
    return {
      topic: toRemote(this.map, msg.topic),
      payload: msg.payload,
      qos,
      retain,
      properties: this.version === 5 ? outgoingProperties(msg) : undefined,
      expiresAt: msg.expiresAt,
    };
  }

  /** A local message for the remote broker (the plugin matched it against the out topics). */
  forward(msg: Message, qos: QoS): void {
    if (msg.expiresAt !== 0 && msg.expiresAt <= Date.now()) return;
    const b = this.config;
    const link = this.link;
    const held = this.held(msg, qos, b.outgoingRetain && msg.retain);
    if (link.state === 'connected') {
      const mid = this.send(held);
      // Journaled in this turn, so before the local publisher's PUBACK is written.
      if (mid > 0 && qos > 0 && this.persisted !== undefined) this.persisted.sent(mid, msg, qos, held.retain);
      return;
    }
    // Not connected: Mosquitto keeps QoS 1 and 2 in the bridge's local session unless it
    // is clean; QoS 0 only with queue_qos0_messages, or for a lazy bridge (its threshold
    // counts them).
    if (link.state === 'stopped' || link.localClean) return;
    if (qos === 0 && !this.broker.options.queueQos0Messages && b.startType !== 'lazy') return;
    if (!this.outbox.push(held)) {
      this.dropped();
      return;
    }
    if (qos > 0 && this.persisted !== undefined) held.out = this.persisted.queued(msg, qos, held.retain);
    if (b.startType === 'lazy' && link.state === 'idle' && this.outbox.length >= b.threshold) link.connect();
  }

  /** Hands a message to the client engine; its packet id, or 0 if it was dropped. */
  private send(m: HeldMessage): number {
    const client = this.client!;
    const out = m.out;
    if (this.maxPacket > 0 && publishSize(m, this.version) > this.maxPacket) {
      this.broker.countMessage('dropped');
      if (out !== undefined) this.persisted!.dropped(out);
      return 0;
    }
    // The engine's own window is the inflight limit; behind it at most max_queued_messages
    // wait. A journaled message was let in when it was held: it is not dropped now.
    const maxQueued = this.broker.options.maxQueuedMessages;
    if (out === undefined && m.qos > 0 && maxQueued > 0 && client.pendingCount >= client.options.maxInflight + maxQueued) {
      this.dropped();
      return 0;
    }
    this.link.touch();
    const mid = client.publish(m.topic, m.payload, m.qos, m.retain, m.properties, m.resendMid, m.released === true);
    if (out !== undefined) this.persisted!.sent(mid, out.msg, out.qos, out.retain, out);
    if (this.broker.log.enabled(LogType.Debug)) this.lines.sent(m, mid);
    return mid;
  }

  private dropped(): void {
    this.broker.countMessage('dropped');
    if (!this.dropWarned) {
      this.dropWarned = true;
      this.broker.log.notice(`Outgoing messages are being dropped for client ${this.clientId}.`);
    }
  }
}
