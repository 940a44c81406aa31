/**
 * The broker: composes listeners, clients, sessions, the subscription router, retained
 * messages, $SYS and the keepalive sweep. Usable as a library:
 *   const broker = new Broker({ listeners: [{ port: 0 }] }); await broker.start(); ... await broker.close();
 */
import v8 from 'node:v8';
import type { Connection } from '../net/index.js';
import { openListener } from './listeners.js';
import type { QoS } from '../protocol/index.js';
import { Client } from './client.js';
import {
  ClientState,
  type BrokerCore,
  type BrokerPlugin,
  type ClientContext,
  type ListenerRuntime,
  type Outgoing,
  type OutgoingEvent,
  type Session,
} from './core.js';
import { deliverToSession } from './deliver.js';
import { Log } from './log.js';
import { Message } from './message.js';
import { SessionMessages } from './message-store.js';
import { defaultOptions, type BrokerOptions } from './options.js';
import { RetainTree } from './retain.js';
import { Router, type SharedGroup, type SubscriptionOptions } from './router.js';
import { SessionTable } from './session-store.js';
import { Stats } from './stats.js';
import { SysTree } from './sys-tree.js';
import { logClientGone, publishWill } from './client-gone.js';
import { BindInterfaceError, interfaceAddress } from './bind-interface.js';
import type { EnhancedAuthenticator } from './security.js';

export { VERSION } from './version.js';

export type { ListenerRuntime } from './core.js';

/** The composition root: the one implementation of the core contract (core.ts). */
export class Broker implements BrokerCore {
  readonly options: BrokerOptions;
  readonly log: Log;
  readonly stats = new Stats();
  readonly router = new Router<Session>();
  readonly retained = new RetainTree();
  readonly sessions: SessionTable = new SessionTable(this.stats, (s) => this.destroySession(s));
  readonly messages: SessionMessages = new SessionMessages(this);
  readonly clients = new Set<ClientContext>();
  readonly listeners: ListenerRuntime[] = [];
  readonly plugins: BrokerPlugin[] = [];
  /** Plugins that watch every delivery; kept apart so the hot path checks one length. */
  deliveredHooks: BrokerPlugin[] = [];
  /** Plugins that journal persistent sessions' messages (onOutgoing/onIncoming). */
  persistHooks: BrokerPlugin[] = [];
  /** Plugins that run before each batch of socket writes (the persistence journal). */
  private flushHooks: BrokerPlugin[] = [];
  /** Plugins that see every message routed (onPublish): the loop in publish() skips the others. */
  private publishHooks: BrokerPlugin[] = [];
  /** MQTT 5 enhanced authentication (AUTH packets); undefined refuses an authentication method. */
  enhancedAuth: EnhancedAuthenticator | undefined;
  /** See BrokerCore.ackWait. */
  ackWait: Promise<unknown> | undefined = undefined;
  /** See BrokerCore.publishProbe. */
  publishProbe: (() => void) | undefined = undefined;
  /** See BrokerCore.sharedGate. */
  sharedGate: ((group: SharedGroup<Session>) => boolean) | undefined = undefined;
  readonly startedAt = Date.now();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** $SYS publisher; reload.ts restarts it when sys_interval changes. */
  readonly sys: SysTree;
  private closing = false;
  private heapSample = 0;
  private heapSampleAge = 0;

  constructor(options: Partial<BrokerOptions> = {}, log?: Log) {
    this.options = { ...defaultOptions(), ...options };
    this.log = log ?? new Log();
    // log_dest topic publishes each line to $SYS/broker/log/<X>, QoS 2, not retained.
    this.log.attach((topic, payload) => this.publishInternal(topic, payload, 2, false));
    this.sys = new SysTree(this);
  }

  /** Opens every listener; rejects with the first error (address in use, ...). */
  async start(): Promise<void> {
    for (const p of this.plugins) await p.init?.(this);
    this.deliveredHooks = this.plugins.filter((p) => p.onDelivered !== undefined);
    this.persistHooks = this.plugins.filter((p) => p.onOutgoing !== undefined || p.onIncoming !== undefined);
    this.flushHooks = this.plugins.filter((p) => p.beforeFlush !== undefined);
    this.publishHooks = this.plugins.filter((p) => p.onPublish !== undefined);
    for (let settings of this.options.listeners) {
      if (settings.bindInterface !== undefined && settings.unixPath === undefined) {
        try {
          settings = { ...settings, host: interfaceAddress(settings.bindInterface, settings.family) };
        } catch (e) {
          if (e instanceof BindInterfaceError) for (const line of e.lines) this.log.warning(line);
          throw e;
        }
      }
      const rt: ListenerRuntime = { settings, listener: undefined, connections: 0 };
      this.listeners.push(rt);
      rt.listener = await openListener(this, rt);
    }
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.sys.start();
    for (const p of this.plugins) p.start?.(this);
  }

  /** Adds a connection from any transport (the TLS/WebSocket listeners call this too). */
  accept(conn: Connection, rt: ListenerRuntime): void {
    if (this.closing) {
      conn.destroy();
      return;
    }
    const max = rt.settings.maxConnections;
    if (max !== undefined && max >= 0 && rt.connections >= max) {
      conn.destroy();
      return;
    }
    rt.connections++;
    conn.connectFirst = true;
    if (this.options.maxPacketSize > 0) conn.maxInboundPacket = this.options.maxPacketSize;
    // set_tcp_nodelay, per connection so that a SIGHUP reload applies to new connections.
    conn.stream.setNoDelay?.(this.options.setTcpNodelay);
    conn.counters = this.stats;
    conn.flushGate = this;
    const client = new Client(this, conn, rt);
    client.inflightLimit = this.options.maxInflightMessages > 0 ? this.options.maxInflightMessages : 65535;
    this.clients.add(client);
    this.stats.socketsOpened++;
    // connection_messages false hides this line, as Mosquitto.
    if (this.log.connectionMessages) this.log.notice(
      `New connection from ${conn.remoteAddress}:${conn.remotePort} on port ${rt.listener?.port ?? rt.settings.port}.`,
    );
  }

  /**
   * The local sessions of bridges (cleansession false) under persistence: persisted like
   * client sessions, but no client's, so neither expired nor counted as clients.
   */
  get bridgeSessions(): ReadonlyMap<string, Session> {
    return this.sessions.bridgeSessions;
  }

  beforeFlush(): void {
    const hooks = this.flushHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].beforeFlush!();
  }

  /**
   * Routes a message to every matching subscription, and stores it if retained. Returns
   * whether any subscription matched the topic, as Mosquitto counts subscribers for
   * PUBACK 0x10: one that no_local or the ACL then skips still counts.
   */
  publish(msg: Message, publisherId: string | undefined, store = true): boolean {
    this.ackWait = undefined;
    if (msg.retain && store) {
      this.retained.set(msg);
      for (const p of this.plugins) p.onRetain?.(msg);
    }
    const probe = this.publishProbe;
    if (probe !== undefined) {
      this.publishProbe = undefined;
      probe();
    }
    const hooks = this.publishHooks;
    let matched = false;
    for (let i = 0; i < hooks.length; i++) if (hooks[i].onPublish!(msg) === true) matched = true;
    const { deliveries, shared } = this.router.match(msg.topic);
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      const session = d.session;
      if (d.noLocal && publisherId === session.clientId) continue;
      // The receiver's listener's ACL with per_listener_settings, else the broker's.
      if (!this.mayRead(session, msg.topic)) {
        this.stats.droppedAcl++;
        continue;
      }
      const qos = this.options.upgradeOutgoingQos ? d.qos : ((msg.qos < d.qos ? msg.qos : d.qos) as QoS);
      // MQTT-3.3.1-9: live copies go out with retain clear unless "retain as published".
      deliverToSession(this, session, msg, qos, d.retainAsPublished && msg.retain, d.identifiers);
    }
    const gate = this.sharedGate;
    for (let i = 0; i < shared.length; i++) {
      if (gate === undefined || gate(shared[i])) this.deliverShared(shared[i], msg, publisherId);
    }
    return matched || deliveries.length > 0 || shared.length > 0;
  }

  private deliverShared(group: SharedGroup<Session>, msg: Message, publisherId: string | undefined, qosCap: QoS = 2): void {
    const n = group.members.length;
    // One member per message, preferring connected ones (MQTT 5, 4.8.2).
    for (let tries = 0; tries < n; tries++) {
      const m = group.members[group.next % n];
      group.next = (group.next + 1) % n;
      if (m.session.client === null && tries < n - 1) continue;
      if (m.options.noLocal && publisherId === m.session.clientId) continue;
      if (!this.mayRead(m.session, msg.topic)) continue;
      let qos = this.options.upgradeOutgoingQos ? m.options.qos : ((msg.qos < m.options.qos ? msg.qos : m.options.qos) as QoS);
      if (qos > qosCap) qos = qosCap;
      const ids = m.options.identifier > 0 ? [m.options.identifier] : undefined;
      deliverToSession(this, m.session, msg, qos, false, ids, group);
      return;
    }
  }

  mayRead(session: Session, topic: string): boolean {
    const a = session.client?.listener.settings.authorizer ?? this.options.authorizer;
    return a === undefined || a.canRead(session.clientId, session.username, topic);
  }

  addSubscription(session: Session, treeFilter: string, options: SubscriptionOptions, shareGroup: string | undefined): boolean {
    return this.router.subscribe(session, treeFilter, options, shareGroup);
  }

  removeSubscription(session: Session, treeFilter: string, shareGroup: string | undefined): boolean {
    return this.router.unsubscribe(session, treeFilter, shareGroup);
  }

  /** Forgets a session: its subscriptions leave the tree, its queue is dropped. */
  destroySession(session: Session): void {
    this.releasePendingWill(session);
    // The counts first: an idle session's maps were never made, and need not be now.
    if (session.subscriptionCount > 0) {
      for (const sub of session.subscriptions.values()) {
        this.router.unsubscribe(session, sub.treeFilter, sub.shareGroup);
      }
      session.subscriptions.clear();
    }
    this.stats.storedMessages -= session.queue.length;
    // MQTT 5 (4.8.2): what a shared subscription gave this session and it never
    // acknowledged goes to another member of the group.
    const handOn: Outgoing[] = [];
    if (session.inflightCount > 0) {
      for (const out of session.inflight.values()) if (out.share !== undefined && out.state === 0) handOn.push(out);
      session.inflight.clear();
    }
    if (session.queue.length > 0) {
      for (const out of session.queue.toArray()) if (out.share !== undefined) handOn.push(out);
      session.queue.clear();
    }
    if (session.incomingCount > 0) session.incoming.clear();
    this.sessions.forget(session);
    for (const out of handOn) {
      if (out.share!.members.length > 0) this.deliverShared(out.share!, out.msg, undefined, out.qos);
    }
    for (const p of this.plugins) p.onSessionDestroyed?.(session);
  }

  /** Called once per client when its connection is gone. */
  clientClosed(client: ClientContext): void {
    this.clients.delete(client);
    client.listener.connections--;
    this.stats.socketsClosed++;
    logClientGone(this, client, client.session !== null);
    this.detachClient(client);
  }

  /**
   * Separates a client from its session: will, presence, and the end of a clean session.
   * Runs once per client, at close or earlier when a new connection takes the session over.
   */
  detachClient(client: ClientContext): void {
    const session = client.session;
    if (session === null || session.client !== client) return;
    client.session = null;
    this.stats.clientsConnected--;
    session.client = null;
    session.disconnectedAt = Date.now();
    if (client.cause !== 'disconnect' || client.disconnectReason === 0x04) {
      if (client.willDelay > 0 && client.will !== null) {
        // MQTT-3.1.3-9: the will waits for its delay, and is dropped if the client returns
        // first; it goes at the latest when the session ends (sweep, destroySession). As
        // Mosquitto, a session that ends at disconnect (expiry 0) stays until its delayed
        // will has gone, rather than sending the will at once.
        session.pendingWill = client.will;
        session.pendingWillAt = Date.now() + client.willDelay * 1000;
        client.will = null;
      } else {
        publishWill(this, client);
      }
    }
    for (const p of this.plugins) p.onClientDisconnected?.(client);
    if (session.clean || (client.protocolVersion === 5 && session.expiryInterval === 0)) {
      session.clean = true;
      if (session.pendingWill === undefined) this.destroySession(session);
    }
  }

  /** Publishes a delayed will now (its delay ran out, or its session ended). */
  releasePendingWill(session: Session): void {
    const will = session.pendingWill;
    if (will === undefined) return;
    session.pendingWill = undefined;
    this.publish(will, session.clientId);
  }

  notifyOutgoing(session: Session, out: Outgoing, event: OutgoingEvent): void {
    const hooks = this.persistHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onOutgoing?.(session, out, event);
  }

  notifyIncoming(session: Session, mid: number, msg: Message | undefined): void {
    if (session.clean) return;
    const hooks = this.persistHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onIncoming?.(session, mid, msg);
  }

  countMessage(event: 'received' | 'dropped'): void {
    if (event === 'received') this.stats.publishReceived++;
    else this.stats.publishDropped++;
  }

  /** Heap bytes in use for memory_limit: sampled every 64 calls and at least once a second. */
  memoryInUse(): number {
    if (this.heapSampleAge-- <= 0) {
      this.heapSample = v8.getHeapStatistics().used_heap_size;
      this.heapSampleAge = 64;
    }
    return this.heapSample;
  }

  /** Once a second: keepalive and connect timeouts, session and message expiry. */
  private sweep(): void {
    const now = Date.now();
    this.heapSampleAge = 0;
    for (const client of this.clients) {
      if (client.state === ClientState.New || client.state === ClientState.Authenticating) {
        // A CONNECT whose password waits for verification (a reconnect storm queues
        // thousands) met the deadline: the wait is ours. An MQTT 5 AUTH exchange waits on
        // the client, and stays bounded.
        const ours = client.state === ClientState.Authenticating && client.authMethod === undefined;
        // Mosquitto 2.0.11 gives a connection that has not sent CONNECT its default keep
        // alive (60 s) and cuts it off after 1.5 times that, with its keep alive line.
        if (!ours && now - client.connectedAt > this.options.connectTimeout * 1000) {
          if (this.log.connectionMessages) this.log.notice(`Client ${client.id} has exceeded timeout, disconnecting.`);
          client.disconnect('keepalive');
        }
      } else if (client.state === ClientState.Active && client.keepalive > 0) {
        // MQTT-3.1.2-24: 1.5 times the keep alive without a packet closes the connection.
        // Not while the broker does not read the socket (PauseOwner: the cluster holding a
        // publisher, an AUTH step): the client's PINGREQs wait unread, the wait is ours, and
        // its keep alive counts again from the resume.
        if (now - client.conn.lastReceived > client.keepalive * 1500 && !client.conn.paused) {
          if (this.log.connectionMessages) this.log.notice(`Client ${client.id} has exceeded timeout, disconnecting.`);
          client.disconnect('keepalive', 0x8d);
        }
      }
    }
    for (const session of this.sessions.values()) {
      if (session.client !== null) continue;
      if (session.pendingWill !== undefined && now >= session.pendingWillAt) this.releasePendingWill(session);
      if (session.clean) {
        // A session that ended at disconnect, kept only for its delayed will.
        if (session.pendingWill === undefined) this.destroySession(session);
        continue;
      }
      const expiry = this.sessionExpirySeconds(session);
      if (expiry >= 0 && now - session.disconnectedAt > expiry * 1000) {
        this.stats.clientsExpired++;
        this.destroySession(session);
      } else if (session.queue.length > 0) {
        this.stats.storedMessages -= session.queue.dropExpired(now);
      }
    }
    for (const p of this.plugins) p.onSweep?.(now);
  }

  /** Seconds a disconnected session lives, or -1 for ever. */
  private sessionExpirySeconds(session: Session): number {
    if (session.expiryInterval > 0 && session.expiryInterval !== 0xffffffff) return session.expiryInterval;
    if (session.expiryInterval === 0xffffffff) return -1;
    const pce = this.options.persistentClientExpiration;
    return pce > 0 ? pce : -1;
  }

  /** Publishes a message originated by the broker itself ($SYS, bridges, hooks). */
  publishInternal(topic: string, payload: Buffer | string, qos: QoS, retain: boolean): void {
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.publish(new Message(topic, buf, qos, retain, undefined, undefined, undefined), undefined);
  }

  /** Closes listeners and clients. Sessions stay in memory (and in persistence, if any). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sys.stop();
    // server.close() waits for open connections, so they go first.
    const closed = Promise.all(
      this.listeners.map((rt) => new Promise<void>((resolve) => (rt.listener ? rt.listener.close(resolve) : resolve()))),
    );
    for (const client of [...this.clients]) {
      if (client.active && client.protocolVersion === 5) {
        // MQTT 5: tell the client why (0x8B server shutting down) before the socket goes.
        client.disconnect('shutdown', 0x8b);
      } else {
        client.cause = 'shutdown';
        client.conn.destroy();
      }
    }
    await closed;
    for (const p of this.plugins) await p.stop?.();
  }

  /** Port of the n-th listener as bound (useful with port 0). */
  port(n = 0): number {
    return this.listeners[n]?.listener?.port ?? 0;
  }
}
