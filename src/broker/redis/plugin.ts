/**
 * The Redis integration (issue 7) as a broker plugin: presence, the subscription store
 * with provisioning before CONNACK, subscribe events, the retained and offline-message
 * stores, and command hooks, over ioredis.
 *
 *   broker.plugins.push(createRedisPlugin(config.redis, { nodeName }));
 *   await broker.start();
 *
 * Routing never waits on Redis: every write is encoded into a buffer and pipelined once
 * per event-loop turn on a connection of its own (connection.ts). Only the provisioning read before CONNACK waits, with a
 * timeout, and not at all while Redis is away. Only the hooks the configuration needs
 * are defined, so that a broker without offline stores or message hooks pays nothing per
 * message.
 */
import os from 'node:os';
import type { QoS } from '../../protocol/index.js';
import type { RedisConfig } from '../config/types.js';
import type { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import { RedisLink, type RedisLinkOptions } from './connection.js';
import { EventListener } from './events.js';
import { Hooks } from './hooks.js';
import { MessageStore } from './message-store.js';
import { MessageIds } from './message-id.js';
import { Presence } from './presence.js';
import { RetainStore, isBrokerTopic } from './retain-store.js';
import { useHashTag } from './keys.js';
import { SubscriptionStore } from './subscriptions.js';
import type { BrokerCore, BrokerPlugin, ClientContext, Session } from '../core.js';

export interface RedisPluginOptions {
  /** Name of this broker in mqtt:node:<node>; default redis_node_name, else host:port of the first listener. */
  nodeName?: string;
  /** Longest wait of the provisioning read before CONNACK and of other reads, ms. */
  readTimeoutMs?: number;
  /** Longest wait for Redis at start before the listeners open anyway, ms. */
  startTimeoutMs?: number;
  /** Writes kept while Redis is away (per connection); more are dropped and counted. */
  maxBuffered?: number;
  /** Longest wait between reconnection attempts, ms. */
  maxBackoffMs?: number;
}

/** Counters for $SYS or tests. */
export interface RedisPluginStats {
  /** Writes dropped because Redis was away longer than the buffer lasts. */
  dropped(): number;
  /** Commands Redis answered with an error (a bad hook command, ...). */
  errors(): number;
  /** Offline-store replays under way. */
  replaying(): number;
  connected(): boolean;
  /** Writes not yet answered by Redis (buffered or in flight), all links together. */
  pending(): number;
}

export type RedisPlugin = BrokerPlugin & { readonly stats: RedisPluginStats };

function defaultNodeName(broker: BrokerCore): string {
  const l = broker.options.listeners[0];
  if (l === undefined) return os.hostname();
  return `${l.host ?? os.hostname()}:${l.port}`;
}

export function createRedisPlugin(config: RedisConfig, opts: RedisPluginOptions = {}): RedisPlugin {
  const readTimeout = opts.readTimeoutMs ?? 1000;
  const startTimeout = opts.startTimeoutMs ?? 2000;
  // A Redis Cluster: the keys used together get the presence hash's tag (keys.ts).
  if (config.clusterNodes !== null) useHashTag(config.presenceKey);
  const linkOptions = (url: string | null): RedisLinkOptions => ({
    url,
    // The pools (redis_pool URLs, for hooks) are servers of their own.
    cluster: url === config.url ? config.clusterNodes : null,
    host: config.host,
    port: config.port,
    password: url === null || url === config.url ? config.password : null,
    db: url === null || url === config.url ? config.db : 0,
    maxBuffered: opts.maxBuffered,
    maxBackoffMs: opts.maxBackoffMs,
  });
  const ids = new MessageIds();
  const storing = config.store.length > 0;
  const wants = (e: Parameters<Hooks['has']>[0]): boolean => config.hooks.some((h) => h.event === e);

  let main!: RedisLink;
  let subscriber!: RedisLink;
  const pools = new Map<string, RedisLink>();
  let presence!: Presence;
  let subs!: SubscriptionStore;
  let retain: RetainStore | undefined;
  let store: MessageStore | undefined;
  let hooks!: Hooks;

  const plugin: RedisPlugin = {
    stats: {
      dropped: () => (main?.dropped ?? 0) + [...pools.values()].reduce((n, l) => n + l.dropped, 0),
      errors: () => (main?.errors ?? 0) + [...pools.values()].reduce((n, l) => n + l.errors, 0),
      replaying: () => store?.replaying ?? 0,
      connected: () => main?.ready ?? false,
      pending: () => (main?.pendingWrites ?? 0) + [...pools.values()].reduce((n, l) => n + l.pendingWrites, 0),
    },

    async init(broker: BrokerCore): Promise<void> {
      const log = broker.log;
      const node = opts.nodeName ?? config.nodeName ?? defaultNodeName(broker);
      main = new RedisLink(linkOptions(config.url), log);
      subscriber = new RedisLink({ ...linkOptions(config.url), quiet: true, maxBuffered: 0, writes: false }, log);
      for (const [name, url] of Object.entries(config.pools)) {
        pools.set(name, new RedisLink({ ...linkOptions(url), label: `${name} (${describePool(url)})` }, log));
      }
      presence = new Presence(broker, main, log, config.presenceKey, node, readTimeout);
      subs = new SubscriptionStore(broker, main, log, readTimeout);
      if (config.retain) retain = new RetainStore(broker, main, log, ids, readTimeout);
      if (storing) store = new MessageStore(broker, main, log, ids, config.store, config.messageExpiry, readTimeout);
      hooks = new Hooks(config.hooks, (pool) => (pool === null ? main : (pools.get(pool) ?? main)), node, (m) => ids.idOf(m), log);
      new EventListener(broker, subscriber, main, log, config.eventChannel);
      // On every (re)connection: retained messages (once), then presence. Buffered writes follow.
      if (retain !== undefined) main.onReady(() => retain!.load());
      main.onReady(() => presence.resync());
      await Promise.all([
        main.connect(startTimeout),
        subscriber.connect(startTimeout),
        ...[...pools.values()].map((l) => l.connect(startTimeout)),
      ]);
    },

    async stop(): Promise<void> {
      await Promise.all([main?.close(), subscriber?.close(), ...[...pools.values()].map((l) => l.close())]);
    },

    onClientConnecting(client: ClientContext): Promise<void> | void {
      if (!main.ready) return;
      return subs.provision(client);
    },

    onClientConnected(client: ClientContext): void {
      presence.online(client);
      subs.applyProvisioned(client);
      hooks.fire('client.connected', { clientid: client.clientId, username: client.username });
    },

    onClientDisconnected(client: ClientContext): void {
      presence.offline(client);
      hooks.fire('client.disconnected', { clientid: client.clientId, username: client.username });
    },

    onSubscribe(session: Session, filter: string, options: SubscriptionOptions): void {
      subs.record(session, filter, options.qos);
      hooks.fire('session.subscribed', { clientid: session.clientId, username: session.username, topic: filter, qos: options.qos });
      store?.onSubscribe(session, filter);
    },

    onUnsubscribe(session: Session, filter: string): void {
      subs.forget(session, filter);
      hooks.fire('session.unsubscribed', { clientid: session.clientId, username: session.username, topic: filter });
    },
  };

  if (config.retain) plugin.onRetain = (msg: Message) => retain!.onRetain(msg);

  const publishHooks = wants('message.publish');
  if (storing || publishHooks) {
    plugin.onPublish = (msg: Message): void => {
      if (store !== undefined) store.onPublish(msg);
      if (publishHooks && !isBrokerTopic(msg.topic)) hooks.firePublish(msg);
    };
  }

  const deliveredHooks = wants('message.delivered');
  if (storing || deliveredHooks) {
    plugin.onDelivered = (session: Session, msg: Message, qos?: QoS): void => {
      if (store !== undefined) store.onDelivered(session, msg, qos);
      if (deliveredHooks && !isBrokerTopic(msg.topic)) {
        hooks.fire('message.delivered', messageContext(session, msg, qos));
      }
    };
  }

  const ackedHooks = wants('message.acked');
  if (storing || ackedHooks) {
    plugin.onAcked = (session: Session, msg: Message): void => {
      if (store !== undefined) store.onAcked(session, msg);
      if (ackedHooks) hooks.fire('message.acked', messageContext(session, msg, undefined));
    };
  }

  if (storing) plugin.onSessionDestroyed = (session: Session) => store!.onSessionDestroyed(session);

  return plugin;
}

function messageContext(session: Session, msg: Message, qos: QoS | undefined) {
  return {
    clientid: session.clientId,
    username: session.username,
    topic: msg.topic,
    qos: qos ?? msg.qos,
    payload: msg.payload,
    message: msg,
  };
}

function describePool(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === '' ? '6379' : u.port}`;
  } catch {
    return 'redis';
  }
}
