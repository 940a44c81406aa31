/**
 * The subscription tree: one node per topic level, '+' and '#' as children like any other
 * level. Matches are cached per topic name and the cache is dropped on every change to the
 * tree, so steady-state routing is one Map lookup (DESIGN.md, the hot path).
 * Results are merged per session: a message that matches several subscriptions of one
 * client is delivered once, at the highest QoS among them (MQTT-3.3.5-1).
 */
import type { QoS } from '../protocol/index.js';

export interface SubscriptionOptions {
  qos: QoS;
  /** MQTT 5 no local: not delivered to the publishing client itself (MQTT-3.8.3-3). */
  noLocal: boolean;
  /** MQTT 5 retain as published. */
  retainAsPublished: boolean;
  /** MQTT 5 retain handling 0, 1 or 2. */
  retainHandling: number;
  /** MQTT 5 subscription identifier, 0 for none. */
  identifier: number;
}

/** What the router needs of a subscriber: identity is the object itself. */
export interface Subscriber {
  readonly clientId: string;
}

/** One subscriber's merged view of all its subscriptions that match a topic. */
export interface Delivery<S extends Subscriber> {
  session: S;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  /** Subscription identifiers of the matching subscriptions (MQTT 5), or undefined. */
  identifiers: number[] | undefined;
}

export interface SharedGroup<S extends Subscriber> {
  readonly name: string;
  readonly filter: string;
  members: { session: S; options: SubscriptionOptions }[];
  next: number;
}

export interface MatchResult<S extends Subscriber> {
  deliveries: Delivery<S>[];
  shared: SharedGroup<S>[];
}

interface Node<S extends Subscriber> {
  children: Map<string, Node<S>> | undefined;
  subs: Map<S, SubscriptionOptions> | undefined;
  shared: Map<string, SharedGroup<S>> | undefined;
}

function newNode<S extends Subscriber>(): Node<S> {
  return { children: undefined, subs: undefined, shared: undefined };
}

const CACHE_LIMIT = 100_000;

export class Router<S extends Subscriber> {
  private readonly root: Node<S> = newNode();
  private cache = new Map<string, MatchResult<S>>();
  /** Number of (session, filter) pairs, for $SYS/broker/subscriptions/count. */
  count = 0;
  /** Of which shared ($SYS/broker/shared_subscriptions/count; subscriptions/count includes them, as Mosquitto). */
  sharedCount = 0;

  /** Adds or replaces a subscription. Returns true if it existed before. */
  subscribe(session: S, filter: string, options: SubscriptionOptions, shareGroup?: string): boolean {
    let node = this.root;
    const levels = filter.split('/');
    for (const level of levels) {
      if (node.children === undefined) node.children = new Map();
      let child = node.children.get(level);
      if (child === undefined) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    this.cache.clear();
    if (shareGroup !== undefined) {
      if (node.shared === undefined) node.shared = new Map();
      let group = node.shared.get(shareGroup);
      if (group === undefined) {
        group = { name: shareGroup, filter, members: [], next: 0 };
        node.shared.set(shareGroup, group);
      }
      const existing = group.members.find((m) => m.session === session);
      if (existing !== undefined) {
        existing.options = options;
        return true;
      }
      group.members.push({ session, options });
      this.count++;
      this.sharedCount++;
      return false;
    }
    if (node.subs === undefined) node.subs = new Map();
    const existed = node.subs.has(session);
    node.subs.set(session, options);
    if (!existed) this.count++;
    return existed;
  }

  /** Removes a subscription. Returns true if it existed. */
  unsubscribe(session: S, filter: string, shareGroup?: string): boolean {
    const levels = filter.split('/');
    const path: Node<S>[] = [this.root];
    let node: Node<S> | undefined = this.root;
    for (const level of levels) {
      node = node.children?.get(level);
      if (node === undefined) return false;
      path.push(node);
    }
    let removed = false;
    if (shareGroup !== undefined) {
      const group = node.shared?.get(shareGroup);
      if (group !== undefined) {
        const i = group.members.findIndex((m) => m.session === session);
        if (i !== -1) {
          group.members.splice(i, 1);
          removed = true;
          this.sharedCount--;
          if (group.members.length === 0) node.shared!.delete(shareGroup);
        }
      }
    } else if (node.subs !== undefined) {
      removed = node.subs.delete(session);
    }
    if (!removed) return false;
    this.count--;
    this.cache.clear();
    // Prune empty nodes so that a churn of unique topics does not grow the tree forever.
    for (let i = levels.length; i > 0; i--) {
      const n = path[i];
      if ((n.subs?.size ?? 0) > 0 || (n.shared?.size ?? 0) > 0 || (n.children?.size ?? 0) > 0) break;
      path[i - 1].children!.delete(levels[i - 1]);
    }
    return true;
  }

  match(topic: string): MatchResult<S> {
    let result = this.cache.get(topic);
    if (result !== undefined) return result;
    const merged = new Map<S, Delivery<S>>();
    const shared: SharedGroup<S>[] = [];
    const levels = topic.split('/');
    // MQTT-4.7.2-1: a wildcard at the first level does not match a topic starting with '$'.
    this.walk(this.root, levels, 0, merged, shared, topic.charCodeAt(0) === 0x24);
    result = { deliveries: Array.from(merged.values()), shared };
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }

  private walk(
    node: Node<S>,
    levels: string[],
    depth: number,
    merged: Map<S, Delivery<S>>,
    shared: SharedGroup<S>[],
    dollar: boolean,
  ): void {
    const children = node.children;
    if (children === undefined) return;
    const noWildcard = dollar && depth === 0;
    if (!noWildcard) {
      const hash = children.get('#');
      if (hash !== undefined) this.collect(hash, merged, shared);
    }
    if (depth === levels.length) return;
    const exact = children.get(levels[depth]);
    if (exact !== undefined) {
      if (depth + 1 === levels.length) this.collect(exact, merged, shared);
      this.walk(exact, levels, depth + 1, merged, shared, dollar);
    }
    if (!noWildcard) {
      const plus = children.get('+');
      if (plus !== undefined) {
        if (depth + 1 === levels.length) this.collect(plus, merged, shared);
        this.walk(plus, levels, depth + 1, merged, shared, dollar);
      }
    }
  }

  private collect(node: Node<S>, merged: Map<S, Delivery<S>>, shared: SharedGroup<S>[]): void {
    if (node.subs !== undefined) {
      for (const [session, opts] of node.subs) {
        const d = merged.get(session);
        if (d === undefined) {
          merged.set(session, {
            session,
            qos: opts.qos,
            noLocal: opts.noLocal,
            retainAsPublished: opts.retainAsPublished,
            identifiers: opts.identifier > 0 ? [opts.identifier] : undefined,
          });
        } else {
          if (opts.qos > d.qos) d.qos = opts.qos;
          d.noLocal = d.noLocal && opts.noLocal;
          d.retainAsPublished = d.retainAsPublished || opts.retainAsPublished;
          if (opts.identifier > 0) (d.identifiers ??= []).push(opts.identifier);
        }
      }
    }
    if (node.shared !== undefined) for (const g of node.shared.values()) shared.push(g);
  }
}
