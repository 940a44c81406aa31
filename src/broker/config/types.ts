/**
 * What a mosquitto.conf becomes once parsed: every option of mosquitto.conf(5) 2.0 plus
 * ts-mosquitto's Redis options (issue 7). Names follow the option names in camelCase.
 *
 * Paths are kept exactly as written: Mosquitto resolves a relative path against the
 * broker's working directory (not the directory of the config file), and prints paths as
 * written in its messages ("Loading config file inc/a.conf"), so we do the same.
*
 * The broker options of the option table (../option-table.ts) are declared there: those
 * kept at the top level come in through TopLevelConfigOptions.
 */
import type { TopLevelConfigOptions } from '../option-table.js';
import type { ConfigMessage } from './errors.js';

/** Security settings: global, or per listener when per_listener_settings is true. */
export interface SecurityOptions {
  passwordFile: string | null;
  aclFile: string | null;
  pskFile: string | null;
  /**
   * After parsing this is always a boolean: Mosquitto 2.0 defaults it to false, except
   * in local-only mode (no listener configured at all) where it is true.
   */
  allowAnonymous: boolean | null;
  allowZeroLengthClientid: boolean;
  /** Prefix of generated client ids; Mosquitto's default is "auto-". */
  autoIdPrefix: string;
}

/** 'http' is ours: the metrics, health and dashboard listener (observe/). */
export type ListenerProtocol = 'mqtt' | 'websockets' | 'http';
export type SocketDomain = 'ipv4' | 'ipv6';

export interface ListenerConfig {
  /** TCP port; 0 together with unixPath means a unix socket. */
  port: number;
  /** Bind address or host name; null binds all addresses. */
  host: string | null;
  /** Path of a unix socket (`listener 0 /path/sock`). */
  unixPath: string | null;
  /** null: both IPv4 and IPv6. */
  socketDomain: SocketDomain | null;
  bindInterface: string | null;
  /** -1 means unlimited. */
  maxConnections: number;
  maxQos: 0 | 1 | 2;
  maxTopicAlias: number;
  mountPoint: string | null;
  protocol: ListenerProtocol;
  useUsernameAsClientid: boolean;
  httpDir: string | null;
  // Certificate based TLS: the listener speaks TLS when certfile and keyfile are set.
  cafile: string | null;
  capath: string | null;
  certfile: string | null;
  keyfile: string | null;
  ciphers: string | null;
  ciphersTls13: string | null;
  crlfile: string | null;
  dhparamfile: string | null;
  requireCertificate: boolean;
  /** Minimum TLS version: 'tlsv1.3' | 'tlsv1.2' | 'tlsv1.1' (validated when the listener starts, as Mosquitto does). */
  tlsVersion: string | null;
  useIdentityAsUsername: boolean;
  useSubjectAsUsername: boolean;
  /** Pre-shared-key TLS: set when psk_hint is given. */
  pskHint: string | null;
  /**
   * The security settings in force on this listener: the listener's own when
   * per_listener_settings is true, otherwise the very same object as BrokerConfig.security.
   */
  security: SecurityOptions;
  /**
   * True for Mosquitto's implicit default listener (made by `port`, `bind_address`, or a
   * listener option given before any `listener` line) and for the local-only listeners.
   */
  isDefault: boolean;
}

export type LogDestination = 'stderr' | 'stdout' | 'syslog' | 'topic' | 'file';
export type LogType =
  | 'debug'
  | 'error'
  | 'warning'
  | 'notice'
  | 'information'
  | 'subscribe'
  | 'unsubscribe'
  | 'websockets';

export interface LogConfig {
  /** Empty after `log_dest none`. */
  dest: LogDestination[];
  /** Path given with `log_dest file PATH`, null if none. */
  file: string | null;
  types: LogType[];
  timestamp: boolean;
  /** strftime format; null prints seconds since the epoch. */
  timestampFormat: string | null;
  /** syslog facility local0..local7 as 0..7; null means "daemon". */
  facility: number | null;
  connectionMessages: boolean;
  /** libwebsockets bit mask; kept for compatibility. */
  websocketsLogLevel: number;
}

export type BridgeDirection = 'out' | 'in' | 'both';

export interface BridgeTopic {
  /** The pattern as written; "" when given as the place marker `""`. */
  pattern: string;
  direction: BridgeDirection;
  qos: 0 | 1 | 2;
  localPrefix: string | null;
  remotePrefix: string | null;
  /** Filter used on the local broker: localPrefix + pattern. */
  localTopic: string;
  /** Filter used on the remote broker: remotePrefix + pattern. */
  remoteTopic: string;
}

export interface BridgeAddress {
  host: string;
  port: number;
}

export type BridgeStartType = 'automatic' | 'lazy' | 'once';
export type BridgeProtocolVersion = 'mqttv31' | 'mqttv311' | 'mqttv50';

export interface BridgeConfig {
  name: string;
  addresses: BridgeAddress[];
  roundRobin: boolean;
  topics: BridgeTopic[];
  cleansession: boolean;
  /** null: follows cleansession. */
  localCleansession: boolean | null;
  /** Defaults to "<hostname>.<name>" once parsed (what Mosquitto 2.0 sends; its man page says name.hostname). */
  remoteClientid: string;
  /** Defaults to "local.<remoteClientid>" once parsed. */
  localClientid: string;
  remoteUsername: string | null;
  remotePassword: string | null;
  localUsername: string | null;
  localPassword: string | null;
  notifications: boolean;
  notificationsLocalOnly: boolean;
  /** Defaults to "$SYS/broker/connection/<remoteClientid>/state" once parsed. */
  notificationTopic: string;
  keepaliveInterval: number;
  idleTimeout: number;
  /** Constant delay when cap is null; otherwise decorrelated jitter from base to cap. */
  restartTimeout: { base: number; cap: number | null };
  startType: BridgeStartType;
  threshold: number;
  tryPrivate: boolean;
  protocolVersion: BridgeProtocolVersion;
  attemptUnsubscribe: boolean;
  outgoingRetain: boolean;
  /** 0 means unlimited. */
  maxPacketSize: number;
  bindAddress: string | null;
  cafile: string | null;
  capath: string | null;
  certfile: string | null;
  keyfile: string | null;
  alpn: string | null;
  insecure: boolean;
  requireOcsp: boolean;
  tlsVersion: string | null;
  identity: string | null;
  /** Hex string, no "0x". */
  psk: string | null;
}

export type RedisStoreMode = 'queue' | 'pubsub' | 'keep_latest';

export interface RedisStoreRule {
  filter: string;
  mode: RedisStoreMode;
}

export type RedisHookEvent =
  | 'client.connected'
  | 'client.disconnected'
  | 'session.subscribed'
  | 'session.unsubscribed'
  | 'message.publish'
  | 'message.delivered'
  | 'message.acked';

export interface RedisHook {
  event: RedisHookEvent;
  /** Only fire for topics matching this filter; null for all. */
  topic: string | null;
  /** Named connection from redis_pool; null for the main connection. */
  pool: string | null;
  /** Redis command, e.g. "RPUSH". */
  command: string;
  /** Arguments, each one Redis argument, with ${clientid} etc. still unexpanded. */
  args: string[];
}

export interface RedisConfig {
  /** True once any of redis_host, redis_port or redis_url is given. */
  enabled: boolean;
  host: string;
  port: number;
  /** redis:// or rediss:// URL; takes precedence over host/port when set. */
  url: string | null;
  /** redis_cluster_nodes: seed nodes of a Redis Cluster (then host, port and url are not allowed). */
  clusterNodes: { host: string; port: number }[] | null;
  /** redis_host, redis_port or redis_url was given (refused together with redis_cluster_nodes). */
  addressSet: boolean;
  password: string | null;
  db: number;
  /** Further named connections: name -> URL. */
  pools: Record<string, string>;
  /** null: the broker uses "host:port" of its first listener. */
  nodeName: string | null;
  presenceKey: string;
  eventChannel: string;
  /** Store retained messages in Redis (default true once Redis is configured). */
  retain: boolean;
  store: RedisStoreRule[];
  /** Seconds to live of stored offline messages. */
  messageExpiry: number;
  hooks: RedisHook[];
}

/** Scale-out (issue 15): several nodes over one Redis act as one broker (cluster/). */
export interface ClusterConfig {
  enabled: boolean;
  /** null: the host name plus the first listener's port. */
  nodeName: string | null;
  /** Seconds a node's lease lives without renewal before the others declare it dead. */
  lease: number;
  /** QoS 1/2 messages held for Redis at which their publishers are paused (cluster_max_held_messages). */
  maxHeld: number;
}

export interface BrokerConfig extends TopLevelConfigOptions {
  /** The main config file, or null when running on the built-in defaults. */
  configFile: string | null;
  /** Every listener, in Mosquitto's order: explicit listeners first, the implicit default listener last. */
  listeners: ListenerConfig[];
  /**
   * No listener was configured: Mosquitto 2.0 then listens on 1883 (or the -p ports) on
   * 127.0.0.1 and ::1 only, allows anonymous clients, and logs the "local only mode" lines.
   */
  localOnly: boolean;
  perListenerSettings: boolean;
  /** Global security settings (all listeners when per_listener_settings is false). */
  security: SecurityOptions;
  allowDuplicateMessages: boolean;
  autosaveInterval: number;
  autosaveOnChanges: boolean;
  clientidPrefixes: string | null;
  log: LogConfig;
  persistence: boolean;
  persistenceFile: string;
  /** Directory of the persistence file; null: the working directory. */
  persistenceLocation: string | null;
  pidFile: string | null;
  /** User to switch to when started as root. */
  user: string;
  /** True when `user` was given explicitly (Mosquitto falls back to "nobody" only for the default). */
  userSet: boolean;
  bridges: BridgeConfig[];
  redis: RedisConfig;
  cluster: ClusterConfig;
  /** -d on the command line. */
  daemon: boolean;
  /** -v on the command line: every log type, overriding log_type. */
  verbose: boolean;
}

export type { ConfigMessage } from './errors.js';

export interface ParsedConfig {
  config: BrokerConfig;
  /** Warnings and notes to log at start-up, in the order Mosquitto prints them. */
  messages: ConfigMessage[];
}
