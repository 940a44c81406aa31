/**
 * A session: what the broker keeps for a client id across connections (MQTT-4.1):
 * its subscriptions, the QoS 1/2 messages in flight towards it and queued behind them,
 * and the QoS 2 messages received from it that await PUBREL.
 */
import type { ClientContext, Outgoing, OutgoingQueue, Session, SessionSubscription } from './core.js';
import type { Message } from './message.js';

export type { Outgoing, SessionSubscription } from './core.js';

/** Never written: OutQueue.push replaces it before the first push. */
const NO_ITEMS: (Outgoing | undefined)[] = [];

/** A FIFO of outgoing messages with O(1) push and shift. */
export class OutQueue implements OutgoingQueue {
  // The shared empty array until the first push: an idle session's queue holds no array.
  private items: (Outgoing | undefined)[] = NO_ITEMS;
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(o: Outgoing): void {
    if (this.items === NO_ITEMS) this.items = [];
    this.items.push(o);
    this.bytes += o.msg.payload.length;
  }

  peek(): Outgoing | undefined {
    return this.items[this.head];
  }

  shift(): Outgoing | undefined {
    if (this.head >= this.items.length) return undefined;
    const o = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (o !== undefined) this.bytes -= o.msg.payload.length;
    return o;
  }

  toArray(): Outgoing[] {
    return this.items.slice(this.head) as Outgoing[];
  }

  clear(): void {
    this.items = NO_ITEMS;
    this.head = 0;
    this.bytes = 0;
  }

  /** Drops expired messages (MQTT 5 message expiry, MQTT-3.3.2-5). */
  dropExpired(now: number): number {
    const before = this.length;
    const kept = this.toArray().filter((o) => o.msg.expiresAt === 0 || o.msg.expiresAt > now);
    if (kept.length === before) return 0;
    this.clear();
    for (const o of kept) this.push(o);
    return before - kept.length;
  }
}

/** The memory store's session (persistence and Redis restore into these too). */
export class MemorySession implements Session {
  readonly clientId: string;
  /** Clean session (3.1.1) / clean start with zero expiry: discarded when the client goes. */
  clean: boolean;
  /** MQTT 5 session expiry interval in seconds; 0xFFFFFFFF never expires. */
  expiryInterval = 0;
  /** Unix ms when the client went away, 0 while connected. */
  disconnectedAt = 0;
  username: string | undefined;
  client: ClientContext | null = null;
  inflightBytes = 0;
  readonly queue = new OutQueue();
  /**
   * The three maps are made on first use: a device that connects and idles never
   * subscribes nor has anything in flight, and an empty Map costs ~200 bytes.
   */
  private subs: Map<string, SessionSubscription> | undefined;
  private inflightMap: Map<number, Outgoing> | undefined;
  private incomingMap: Map<number, Message> | undefined;
  /** MQTT 5 will waiting for its will delay interval after an unclean disconnect. */
  pendingWill: Message | undefined;
  pendingWillAt = 0;
  /** Set once a drop warning has been logged, until the queue drains. */
  dropWarned = false;
  private lastGivenMid = 0;

  constructor(clientId: string, clean: boolean) {
    this.clientId = clientId;
    this.clean = clean;
  }

  get subscriptions(): Map<string, SessionSubscription> {
    return (this.subs ??= new Map());
  }

  get inflight(): Map<number, Outgoing> {
    return (this.inflightMap ??= new Map());
  }

  get subscriptionCount(): number {
    return this.subs === undefined ? 0 : this.subs.size;
  }

  get inflightCount(): number {
    return this.inflightMap === undefined ? 0 : this.inflightMap.size;
  }

  get incomingCount(): number {
    return this.incomingMap === undefined ? 0 : this.incomingMap.size;
  }

  /** QoS 2 messages received, released to subscribers on PUBREL (MQTT-4.3.3). */
  get incoming(): Map<number, Message> {
    return (this.incomingMap ??= new Map());
  }

  /** Next free packet identifier, 1..65535, skipping ids still in flight (MQTT-2.2.1-3). */
  nextMid(): number {
    for (let i = 0; i < 65535; i++) {
      this.lastGivenMid = this.lastGivenMid === 65535 ? 1 : this.lastGivenMid + 1;
      if (this.inflightMap === undefined || !this.inflightMap.has(this.lastGivenMid)) return this.lastGivenMid;
    }
    return 0;
  }

  get lastMid(): number {
    return this.lastGivenMid;
  }

  /** Restores the packet-id counter after loading a persisted session. */
  setLastMid(mid: number): void {
    this.lastGivenMid = mid;
  }
}
