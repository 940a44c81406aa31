/**
 * The message path of the cluster (issue 15). onPublish: one cached lookup in the route
 * tree of the other nodes; nothing more when none matches (local traffic). Otherwise the
 * message is appended to the stream of each node with a matching route, once per node
 * whatever overlaps (that node's own tree then gives each of its subscriptions one copy),
 * and each shared subscription group that has members on several nodes is served by one
 * of those nodes in turn (round robin over the nodes that have members), so that one
 * member in the whole cluster gets each message: the chosen node is named in the entry
 * and the others keep the message from their members (BrokerCore.sharedGate).
 *
 * A message that came from another node is delivered here by the ordinary local path
 * and never forwarded again.
 */
import type { Message } from '../message.js';
import type { SharedGroup } from '../router.js';
import type { BrokerCore, Session } from '../core.js';
import type { Routes } from './routes.js';
import type { Entry, StreamOut } from './stream.js';

const MAX_TURNS = 10_000;

export class Forwarder {
  forwarded = 0;
  received = 0;
  /** Set while a message from another node is routed here. */
  private injecting = false;
  /** Of the message being injected: the shared groups this node serves it to. */
  private assigned: Set<string> | undefined;
  /** Of the message being published here: the shared groups another node serves. */
  private elsewhere: Set<string> | undefined;
  /** The retained message being published (onRetain runs just before onPublish). */
  private retaining: Message | undefined;
  private readonly turns = new Map<string, number>();
  /** QoS 2 messages forwarded on arrival, until their PUBREL: the groups another node serves (null: none). */
  private readonly early = new WeakMap<Message, Set<string> | null>();
  /** Of the last forward(): whether any remote route matched. */
  private matched = false;

  constructor(
    private readonly broker: BrokerCore,
    private readonly routes: Routes,
    private readonly out: StreamOut,
    private readonly self: string,
    private readonly live: () => Iterable<string>,
  ) {}

  /** BrokerCore.sharedGate: whether this node's members of `group` get the message being routed. */
  readonly gate = (group: SharedGroup<Session>): boolean => {
    const key = group.name + '\n' + group.filter;
    if (this.injecting) return this.assigned !== undefined && this.assigned.has(key);
    return this.elsewhere === undefined || !this.elsewhere.has(key);
  };

  /** A message from another node's stream. */
  receive(e: Entry): void {
    this.received++;
    if (e.mode === 'r') {
      this.broker.retained.set(e.msg);
      return;
    }
    this.injecting = true;
    this.assigned = e.groups !== undefined ? new Set(e.groups.split('\t')) : undefined;
    try {
      this.broker.publish(e.msg, e.msg.from, e.mode !== 'dl');
    } finally {
      this.injecting = false;
      this.assigned = undefined;
    }
  }

  onRetain(msg: Message): void {
    if (!this.injecting) this.retaining = msg;
  }

  /**
   * A QoS 2 message arrived from a client here (routed locally at PUBREL): its copies for
   * the other nodes go now, so that when a remote QoS>0 subscriber's copy must be in Redis
   * before the PUBREC (issue 15), the PUBREC waits for it (BrokerCore.ackWait); onPublish
   * at PUBREL then sends nothing more. Remote subscribers may so get it before the PUBREL,
   * which MQTT allows (the "store packet identifier, deliver now" method of QoS 2).
   * A retained one is not stored anywhere yet: its early copies are live copies (mode dl:
   * retain flag set, for retain-as-published subscriptions, not stored), and the retained stores of the other nodes change at its PUBREL,
   * with this node's (onPublish), so that a PUBREL that never comes changes none.
   */
  onQos2Received(msg: Message): void {
    this.elsewhere = undefined;
    if (this.injecting) return;
    const topic = msg.topic;
    if (topic.charCodeAt(0) === 0x24 /* $ */ && topic.startsWith('$SYS')) return;
    const wait = this.forward(msg, false, msg.retain);
    this.early.set(msg, this.elsewhere ?? null);
    this.elsewhere = undefined;
    if (wait !== undefined) this.held(msg, wait);
  }

  /**
   * Kept small (the broker inlines it into its publish loop): local traffic, a message
   * that no other node's route can match and that changes no retained store, ends here.
   */
  onPublish(msg: Message): boolean {
    this.elsewhere = undefined;
    if (this.injecting) return false;
    // Only QoS 2 messages are forwarded early (onQos2Received, see published); a message's
    // QoS never changes; onRetain has set `retaining` for a retained message.
    if (msg.qos !== 2 && this.retaining === undefined && !this.routes.mayMatch(msg.topic)) return false;
    return this.published(msg);
  }

  private published(msg: Message): boolean {
    const early = msg.qos === 2 ? this.early.get(msg) : undefined;
    if (early !== undefined) {
      // Forwarded when it arrived: the shared groups another node serves stay theirs.
      this.early.delete(msg);
      if (this.retaining === msg) {
        // Its PUBREL: the other nodes' retained stores change now, as this node's did.
        this.retaining = undefined;
        for (const n of this.live()) if (n !== this.self) this.out.send(n, msg, 'r');
      }
      if (early !== null) this.elsewhere = early;
      return false;
    }
    const topic = msg.topic;
    if (topic.charCodeAt(0) === 0x24 /* $ */ && topic.startsWith('$SYS')) return false;
    const retained = this.retaining === msg;
    this.retaining = undefined;
    const wait = this.forward(msg, retained);
    if (wait !== undefined) this.held(msg, wait);
    return this.matched;
  }

  /**
   * The publisher's acknowledgement waits for Redis; when the QoS 1/2 messages held are at
   * the bound, the publisher is paused too (StreamOut.pause): nothing held is dropped.
   */
  private held(msg: Message, wait: Promise<unknown>): void {
    this.broker.ackWait = wait;
    if (!this.out.full() || msg.from === undefined) return;
    const client = this.broker.sessions.get(msg.from)?.client;
    if (client != null) this.out.pause(msg.from, client.conn);
  }

  /**
   * Appends `msg` to the streams of the nodes whose routes match (and, when `retained`, of
   * every other live node; `live`: a retained message's live copies, not stored); the promise, when the publisher's acknowledgement must wait.
   */
  private forward(msg: Message, retained: boolean, live = false): Promise<unknown> | undefined {
    const { deliveries, shared } = this.routes.match(msg.topic);
    this.matched = deliveries.length > 0 || shared.length > 0;
    if (!this.matched && !retained) return undefined;
    const mode = retained ? 'dr' : live ? 'dl' : 'd';
    let groupsFor: Map<string, string> | undefined;
    let groupQos = 0;
    for (let i = 0; i < shared.length; i++) {
      const g = shared[i];
      const key = g.name + '\n' + g.filter;
      const candidates: string[] = this.routes.hasLocalShare(g.name, g.filter) ? [this.self] : [];
      for (const m of g.members) candidates.push(m.session.clientId);
      const turn = this.turns.get(key) ?? 0;
      if (this.turns.size >= MAX_TURNS) this.turns.clear();
      this.turns.set(key, turn + 1);
      const chosen = candidates[turn % candidates.length];
      if (chosen === this.self) continue;
      (this.elsewhere ??= new Set()).add(key);
      groupsFor ??= new Map();
      const prev = groupsFor.get(chosen);
      groupsFor.set(chosen, prev === undefined ? key : prev + '\t' + key);
      for (const m of g.members) if (m.session.clientId === chosen && m.options.qos > groupQos) groupQos = m.options.qos;
    }
    let wait: Promise<unknown> | undefined;
    const hold = (p: Promise<unknown>): void => {
      wait = wait === undefined ? p : Promise.all([wait, p]);
    };
    const sent = retained ? new Set<string>() : undefined;
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      const node = d.session.clientId;
      const groups = groupsFor?.get(node);
      if (groups !== undefined) groupsFor!.delete(node);
      const p = this.out.send(node, msg, mode, groups);
      this.forwarded++;
      sent?.add(node);
      if (msg.qos > 0 && (d.qos > 0 || (groups !== undefined && groupQos > 0))) hold(p);
    }
    if (groupsFor !== undefined) {
      for (const [node, groups] of groupsFor) {
        const p = this.out.send(node, msg, mode, groups);
        this.forwarded++;
        sent?.add(node);
        if (msg.qos > 0 && groupQos > 0) hold(p);
      }
    }
    if (sent !== undefined) {
      // A retained change reaches every node's retained tree, subscribers or not.
      for (const n of this.live()) if (n !== this.self && !sent.has(n)) this.out.send(n, msg, 'r');
    }
    return wait;
  }
}
