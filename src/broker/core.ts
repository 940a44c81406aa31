/**
 * The broker's core contract: what handlers, delivery, the sending side, $SYS, the
 * listener/signal/reload glue and every plugin (persistence, Redis, bridges, auth) are
 * written against. Only broker.ts, the composition root, knows the concrete parts; it
 * implements BrokerCore, and client.ts implements ClientContext.
 *
 * This module declares types only (and one const enum, erased at compile time), and
 * imports nothing that imports it back, so it is a leaf: nothing in src/ forms a cycle
 * through it.
 */
import type { Connection, Listener } from '../net/index.js';
import type { Packet, ProtocolVersion, QoS } from '../protocol/index.js';
import type { Log } from './log.js';
import type { Message } from './message.js';
import type { BrokerOptions, ListenerSettings } from './options.js';
import type { SharedGroup, Subscriber, SubscriptionOptions } from './router.js';
import type { EnhancedAuthenticator } from './security.js';
import type { Stats } from './stats.js';

// ---------------------------------------------------------------------------------------
// Clients

export const enum ClientState {
  /** Waiting for CONNECT. */
  New,
  /** CONNECT received, authentication in progress: later packets wait. */
  Authenticating,
  Active,
  /** Closed or being closed: nothing more is processed. */
  Closed,
}

/**
 * Why the broker stopped reading a client's socket (Connection.pause's owner bits): each
 * reason resumes only its own pause, so that the socket is read again once none holds it,
 * and keepalive is not counted while any does (the wait is the broker's, not the client's).
 */
export const enum PauseOwner {
  /** CONNECT in progress: packets piled up while the password is verified, plugins preparing (connect.ts). */
  Connecting = 1,
  /** An MQTT 5 AUTH step waits for the enhanced authenticator (auth.ts). */
  AuthStep = 2,
  /** The cluster holds the publisher's QoS 1/2 messages for Redis at the bound (cluster/stream.ts). */
  Held = 4,
}

/** Why a client went away, which decides the log line and whether the will is sent. */
export type CloseCause =
  | 'disconnect'
  | 'closed'
  | 'closed-mid-packet'
  | 'socket-error'
  | 'keepalive'
  | 'takeover'
  | 'protocol'
  | 'malformed'
  | 'auth'
  | 'shutdown'
  | 'tls'
  | 'oversize'
  | 'oversize-payload'
  | 'admin';

/** A listener as the broker runs it: its settings, the open socket, its connection count. */
export interface ListenerRuntime {
  settings: ListenerSettings;
  listener: Listener | undefined;
  connections: number;
}

/**
 * One network client as handlers see it: its connection, where it is in the CONNECT
 * state machine, what it negotiated, and how to end it. Outbound packets go through the
 * sending side (send/), never through `conn` directly.
 */
export interface ClientContext {
  readonly broker: BrokerCore;
  readonly conn: Connection;
  readonly listener: ListenerRuntime;
  state: ClientState;
  /** The client id once known; '' before CONNECT. */
  clientId: string;
  username: string | undefined;
  protocolVersion: ProtocolVersion;
  keepalive: number;
  /** The keepalive the client asked for in CONNECT (what Mosquitto's connect line shows). */
  requestedKeepalive: number;
  session: Session | null;
  will: Message | null;
  /** MQTT 5 will delay interval, seconds. */
  willDelay: number;
  cause: CloseCause | undefined;
  /** Min of max_inflight_messages and the client's receive maximum (MQTT 5). */
  inflightLimit: number;
  /** Largest packet the client accepts (MQTT 5 Maximum Packet Size), 0 for no limit. */
  maxOutboundPacket: number;
  /** MQTT 5 topic aliases the client has set, inbound (MQTT-3.3.2-7). */
  topicAliases: Map<number, string> | undefined;
  /** MQTT 5 Topic Alias Maximum the client accepts from us (CONNECT property). */
  topicAliasMaxOut: number;
  /** Topic aliases we have set towards the client. */
  outAliases: Map<string, number> | undefined;
  /** MQTT 5 Request Problem Information: false forbids reason strings on most packets. */
  problemInformation: boolean;
  /** MQTT 5 enhanced authentication: the method, what to do when it ends, the step count. */
  authMethod: string | undefined;
  authDone: ((ok: boolean) => void) | undefined;
  authStep: number;
  /** Authentication data for the CONNACK (or final AUTH) that ends an exchange. */
  authData: Buffer | undefined;
  /** Packets received while CONNECT is being authenticated. */
  pending: Packet[] | undefined;
  readonly connectedAt: number;
  /** MQTT 5 session expiry requested in CONNECT. */
  sessionExpiry: number;
  /** Clean session (3.1.1) / clean start (5) as the CONNECT asked: false resumes a session. */
  cleanStart: boolean;
  /** MQTT 5 DISCONNECT reason received from the client. */
  disconnectReason: number;
  /** A bridge (CONNECT with the try_private bit): its subscriptions get No Local and Retain As Published. */
  isBridge: boolean;
  /** The name used in log lines: the client id, or <unknown> before CONNECT. */
  readonly id: string;
  readonly active: boolean;
  readonly mountPoint: string | undefined;
  readonly address: string;
  /** Processes the packets that arrived while CONNECT was being authenticated. */
  drainPending(): void;
  /** Ends the connection for a protocol violation (MQTT 5: DISCONNECT with `reason` first). */
  protocolError(reason?: number): void;
  /** Ends the connection for the given cause (MQTT 5: DISCONNECT with `v5Reason` first, if given). */
  disconnect(cause: CloseCause, v5Reason?: number): void;
  /** Flushes what is queued and closes; the rest happens when the connection reports its close. */
  close(): void;
}

// ---------------------------------------------------------------------------------------
// Sessions and the messages they hold

/** A message on its way to a session's client. */
export interface Outgoing {
  mid: number;
  msg: Message;
  qos: QoS;
  /** The retain flag as delivered (set for retained copies sent on subscribe). */
  retain: boolean;
  identifiers: number[] | undefined;
  /** The shared subscription group it came through, to hand it on if this session ends. */
  share?: SharedGroup<Session>;
  /** 0: PUBLISH sent, awaiting PUBACK/PUBREC; 1: PUBREL sent, awaiting PUBCOMP. */
  state: 0 | 1;
}

export interface SessionSubscription {
  /** The filter as the client sent it, including any $share/group/ prefix. */
  filter: string;
  /** The filter in the tree, after mount point and without the share prefix. */
  treeFilter: string;
  shareGroup: string | undefined;
  options: SubscriptionOptions;
}

/** The FIFO of messages waiting behind a session's inflight window. */
export interface OutgoingQueue {
  readonly length: number;
  /** Payload bytes queued. */
  readonly bytes: number;
  push(o: Outgoing): void;
  peek(): Outgoing | undefined;
  shift(): Outgoing | undefined;
  toArray(): Outgoing[];
  clear(): void;
  /** Drops expired messages (MQTT-3.3.2-5); returns how many. */
  dropExpired(now: number): number;
}

/**
 * A session: what the broker keeps for a client id across connections (MQTT-4.1): its
 * subscriptions, the QoS 1/2 messages in flight towards it and queued behind them, and
 * the QoS 2 messages received from it that await PUBREL.
 */
export interface Session extends Subscriber {
  readonly clientId: string;
  /** Clean session (3.1.1) / clean start with zero expiry: discarded when the client goes. */
  clean: boolean;
  /** MQTT 5 session expiry interval in seconds; 0xFFFFFFFF never expires. */
  expiryInterval: number;
  /** Unix ms when the client went away, 0 while connected. */
  disconnectedAt: number;
  username: string | undefined;
  client: ClientContext | null;
  readonly subscriptions: Map<string, SessionSubscription>;
  readonly inflight: Map<number, Outgoing>;
  inflightBytes: number;
  readonly queue: OutgoingQueue;
  /** QoS 2 messages received, released to subscribers on PUBREL (MQTT-4.3.3). */
  readonly incoming: Map<number, Message>;
  /** MQTT 5 will waiting for its will delay interval after an unclean disconnect. */
  pendingWill: Message | undefined;
  pendingWillAt: number;
  /** Set once a drop warning has been logged, until the queue drains. */
  dropWarned: boolean;
  /** Sizes of subscriptions, inflight and incoming, read without making those maps. */
  readonly subscriptionCount: number;
  readonly inflightCount: number;
  readonly incomingCount: number;
  /** Next free packet identifier, 1..65535, skipping ids still in flight (MQTT-2.2.1-3). */
  nextMid(): number;
  /** The last packet identifier given: persisted, so that numbering goes on after a restart (as Mosquitto's). */
  readonly lastMid: number;
  /** Restores the packet-id counter after loading a persisted session. */
  setLastMid(mid: number): void;
}

// ---------------------------------------------------------------------------------------
// Stores: the seams persistence, Redis and bridges reach state through

/**
 * The sessions of clients by client id, and the local sessions of bridges kept apart
 * from them. Reading is free; every change goes through these methods, which keep the
 * broker's counters ($SYS stored messages) and the subscription tree consistent.
 */
export interface SessionStore {
  get(clientId: string): Session | undefined;
  has(clientId: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<Session>;
  readonly size: number;
  /**
   * A new empty session under `clientId`, in the store (a CONNECT, or state being
   * restored); an older session of that id is destroyed first.
   */
  create(clientId: string, clean: boolean): Session;
  /** Forgets a session: its subscriptions leave the tree, its messages are dropped or handed on. */
  destroy(session: Session): void;
  /**
   * The local session of a bridge (cleansession false under persistence): the one restored
   * for `clientId` if there is one, else a new one. It leaves the client sessions (it is
   * neither expired nor counted as a client's) for `bridgeSessions`.
   */
  adoptForBridge(clientId: string): Session;
  /** The local sessions of bridges (persisted like client sessions). */
  readonly bridgeSessions: ReadonlyMap<string, Session>;
}

/** Retained messages by topic (MQTT-3.3.1-5). */
export interface RetainStore {
  /** How many, and their payload bytes ($SYS). */
  readonly count: number;
  readonly bytes: number;
  get(topic: string): Message | undefined;
  /** Stores (or, with an empty payload, clears) the retained message of msg.topic. */
  set(message: Message): void;
  deleteTopic(topic: string): void;
  match(filter: string, out?: Message[]): Message[];
  all(out?: Message[]): Message[];
  /** One level of the topic tree under `topic` (the dashboard), at most `limit` entries. */
  children(topic: string, limit: number): { name: string; message: Message | undefined; hasChildren: boolean }[];
}

/** The QoS 1/2 messages of sessions: in flight towards their clients and queued behind. */
export interface MessageStore {
  /**
   * Delivers `msg` to a session at `qos`: sent now within its inflight window, queued
   * behind it within max_queued_messages/bytes, or dropped and counted (deliver.ts).
   */
  deliver(session: Session, msg: Message, qos: QoS, retain: boolean, identifiers: number[] | undefined): void;
  /** The retained messages matching `filter` to a client that subscribed to it (MQTT-3.3.1-6). */
  deliverRetained(client: ClientContext, filter: string, subQos: QoS): void;
  /** Puts a restored message in flight under its packet id (state being restored). */
  restoreInflight(session: Session, out: Outgoing): void;
  /** Puts a restored message at the end of a session's queue (state being restored). */
  restoreQueued(session: Session, out: Outgoing): void;
  /** A message in flight was acknowledged (PUBACK, PUBCOMP, a v5 refusal): frees its slot, pumps the queue. */
  complete(session: Session, mid: number): boolean;
}

// ---------------------------------------------------------------------------------------
// Plugins

/** What happened to an outgoing message of a persistent session (BrokerPlugin.onOutgoing). */
export type OutgoingEvent = 'queued' | 'inflight' | 'dequeued' | 'pubrel' | 'done';

/**
 * Extension points for integrations that watch the broker (Redis presence and stores,
 * persistence journals, bridges, metrics). Every hook is optional; hooks on the message
 * path must return quickly and never wait on I/O.
 */
export interface BrokerPlugin {
  /** Awaited before the listeners open: load state (retained messages, sessions). */
  init?(broker: BrokerCore): Promise<void> | void;
  /** After the listeners opened. */
  start?(broker: BrokerCore): void;
  stop?(): Promise<void> | void;
  /**
   * The program was asked to stop (SIGINT, SIGTERM) and has not yet logged that it is
   * terminating: bridges disconnect here, as Mosquitto's do, so that what they finish is
   * in the save that follows.
   */
  onTerminate?(): Promise<void>;
  /** After authentication, before the session is attached; a returned promise delays CONNACK (provisioning reads). */
  onClientConnecting?(client: ClientContext): Promise<void> | void;
  /** Session attached, CONNACK not yet sent: subscriptions made here are in place before the client hears back. */
  onClientConnected?(client: ClientContext): void;
  onClientDisconnected?(client: ClientContext): void;
  onSubscribe?(session: Session, filter: string, options: SubscriptionOptions): void;
  onUnsubscribe?(session: Session, filter: string): void;
  /**
   * A message is being routed. True when it matched a subscription the plugin keeps itself
   * (a bridge's): that counts as a subscriber for PUBACK 0x10 No matching subscribers.
   */
  onPublish?(msg: Message): boolean | void;
  onRetain?(msg: Message): void;
  /** A client's QoS 2 PUBLISH arrived (routed at PUBREL); setting ackWait holds its PUBREC. */
  onQos2Received?(msg: Message): void;
  /** A PUBLISH went out to the session's client at this QoS (QoS 0: that is its acknowledgement). */
  onDelivered?(session: Session, msg: Message, qos: QoS): void;
  onAcked?(session: Session, msg: Message): void;
  onSessionDestroyed?(session: Session): void;
  onSessionCreated?(session: Session): void;
  /**
   * Persistent sessions only (not clean): an outgoing QoS>0 message was queued, put in
   * flight (mid assigned) straight away or from the queue ('dequeued'), moved to PUBREL, or
   * completed (acked or dropped).
   */
  onOutgoing?(session: Session, out: Outgoing, event: OutgoingEvent): void;
  /** Persistent sessions only: a QoS 2 message from the client was stored (msg) or released (undefined). */
  onIncoming?(session: Session, mid: number, msg: Message | undefined): void;
  onSweep?(now: number): void;
  /**
   * Just before each batch of socket writes (once per event-loop turn that writes): a
   * write-ahead journal flushes here, so nothing acknowledged in this turn reaches a
   * client before it is on disk.
   */
  beforeFlush?(): void;
}

// ---------------------------------------------------------------------------------------
// The broker

/** The $SYS publisher (sys-tree.ts) as reload sees it. */
export interface SysPublisher {
  /** sys_interval changed: republish on the new period (0 stops). */
  setInterval(seconds: number): void;
}

/**
 * The broker as handlers, delivery and plugins see it. broker.ts implements it; nothing
 * but the composition root (broker.ts, cli/broker.ts, index.ts) names the Broker class.
 */
export interface BrokerCore {
  readonly options: BrokerOptions;
  readonly log: Log;
  readonly stats: Stats;
  readonly startedAt: number;
  readonly sessions: SessionStore;
  readonly retained: RetainStore;
  readonly messages: MessageStore;
  /** The subscription tree, as $SYS counts it. */
  readonly router: { readonly count: number; readonly sharedCount: number };
  readonly clients: ReadonlySet<ClientContext>;
  readonly listeners: readonly ListenerRuntime[];
  readonly plugins: readonly BrokerPlugin[];
  /** Plugins that watch every delivery; kept apart so the hot path checks one length. */
  readonly deliveredHooks: readonly BrokerPlugin[];
  /** Plugins that journal persistent sessions' messages (onOutgoing/onIncoming). */
  readonly persistHooks: readonly BrokerPlugin[];
  /** MQTT 5 enhanced authentication (AUTH packets); undefined refuses an authentication method. */
  enhancedAuth: EnhancedAuthenticator | undefined;
  /** $SYS publisher; reload restarts it when sys_interval changes. */
  readonly sys: SysPublisher;
  /** Adds a connection from any transport (TCP, TLS, WebSocket listeners). */
  accept(conn: Connection, rt: ListenerRuntime): void;
  /** Runs the plugins' beforeFlush hooks; set as each connection's flush gate. */
  beforeFlush(): void;
  /** Routes a message to every matching subscription, and stores it if retained. */
  /**
   * Routes a message; false when no subscription matched its topic (no_local and ACL
   * filtering at delivery aside), for an MQTT 5 PUBACK 0x10 as Mosquitto sends. `store`
   * false: a retained message's live copies only, not stored (the cluster's early copies
   * of a retained QoS 2 message, stored at its PUBREL).
   */
  publish(msg: Message, publisherId: string | undefined, store?: boolean): boolean;
  /**
   * Set by a plugin's onPublish (or onQos2Received) when the publisher's acknowledgement
   * (PUBACK, PUBCOMP; PUBREC) must wait: the cluster holds it until a remote QoS>0
   * subscriber's copy is in Redis. Cleared at the start of each publish(); the PUBLISH and
   * PUBREL handlers read it.
   */
  ackWait: Promise<unknown> | undefined;
  /**
   * Called once, as the next message is routed (before its copies are written), and
   * cleared: set by a plugin that times a message now and then (the observe plugin's
   * latency sample). One slot, one field read per message, no hook on every message.
   */
  publishProbe: (() => void) | undefined;
  /**
   * Set by a plugin (the cluster) that shares subscription groups with other brokers:
   * false keeps a message from this broker's members of `group` (another broker's member
   * gets it). Undefined: every matching group delivers here.
   */
  sharedGate: ((group: SharedGroup<Session>) => boolean) | undefined;
  /** Publishes a message originated by the broker itself ($SYS, bridges, hooks). */
  publishInternal(topic: string, payload: Buffer | string, qos: QoS, retain: boolean): void;
  /** Whether the session's client may read `topic` (ACL). */
  mayRead(session: Session, topic: string): boolean;
  /** Adds a subscription to the tree; true if it existed already. */
  addSubscription(session: Session, treeFilter: string, options: SubscriptionOptions, shareGroup: string | undefined): boolean;
  removeSubscription(session: Session, treeFilter: string, shareGroup: string | undefined): boolean;
  /** Separates a client from its session: will, presence, and the end of a clean session. */
  detachClient(client: ClientContext): void;
  /** Called once per client when its connection is gone. */
  clientClosed(client: ClientContext): void;
  notifyOutgoing(session: Session, out: Outgoing, event: OutgoingEvent): void;
  notifyIncoming(session: Session, mid: number, msg: Message | undefined): void;
  /**
   * A plugin's message in the broker's counters ($SYS publish/messages/..., metrics):
   * 'received' for one it brings in (a bridge's, from the remote broker), 'dropped' for one
   * it could not pass on. Plugins count through this, never by writing `stats`.
   */
  countMessage(event: 'received' | 'dropped'): void;
  /** Heap bytes in use for memory_limit (sampled). */
  memoryInUse(): number;
  close(): Promise<void>;
}
