/**
 * The broker's runtime settings: what a mosquitto.conf becomes once parsed (config/), or
 * what an embedding program passes to `new Broker(...)`. Names follow mosquitto.conf.
 */
import type { Authenticator, Authorizer } from './security.js';
import type { ListenerConfig } from './config/types.js';

export interface ListenerSettings {
  /** TCP port, 0 picks a free one; ignored with unixPath. */
  port: number;
  /** Bind address; undefined binds all. */
  host?: string;
  unixPath?: string;
  family?: 4 | 6;
  /** bind_interface: the interface whose address is bound when the listener opens (bind-interface.ts). */
  bindInterface?: string;
  /** 'mqtt' or 'websockets'. */
  protocol?: 'mqtt' | 'websockets';
  maxConnections?: number;
  mountPoint?: string;
  useUsernameAsClientid?: boolean;
  /** Per-listener security, used when per_listener_settings is true. */
  authenticator?: Authenticator;
  authorizer?: Authorizer;
  allowAnonymous?: boolean;
  allowZeroLengthClientid?: boolean;
  autoIdPrefix?: string;
  clientidPrefixes?: string;
  maxQos?: 0 | 1 | 2;
  maxTopicAlias?: number;
  /** The listener as parsed from mosquitto.conf: TLS and WebSocket settings are read from it. */
  config?: ListenerConfig;
}

export interface BrokerOptions {
  listeners: ListenerSettings[];
  /** Mosquitto's local-only default mode: bind loopback addresses, log the warning lines. */
  localOnly?: boolean;
  allowAnonymous: boolean;
  authenticator?: Authenticator;
  authorizer?: Authorizer;
  allowZeroLengthClientid: boolean;
  autoIdPrefix: string;
  maxInflightMessages: number;
  maxInflightBytes: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  queueQos0Messages: boolean;
  messageSizeLimit: number;
  maxPacketSize: number;
  maxKeepalive: number;
  retainAvailable: boolean;
  /** response_topic_prefix: MQTT 5 Response Information is PREFIX/CLIENTID (escaped). */
  responseTopicPrefix: string;
  /** memory_limit: bytes of heap above which incoming messages are refused; 0 no limit. */
  memoryLimit: number;
  upgradeOutgoingQos: boolean;
  checkRetainSource: boolean;
  setTcpNodelay: boolean;
  /** Seconds; 0 disables $SYS. */
  sysInterval: number;
  /** Seconds after which a disconnected persistent session is removed; 0 never. */
  persistentClientExpiration: number;
  /** Seconds a new connection may take to send CONNECT. */
  connectTimeout: number;
  maxTopicAlias: number;
  /** websockets_log_level: which WebSocket/HTTP events reach log_type websockets (1 error, 4 notice, 8 info). */
  websocketsLogLevel: number;
  /** websockets_headers_size: largest HTTP upgrade request header, 0 for Node's default. */
  websocketsHeadersSize: number;
  /** Hard cap on bytes waiting to be written to one socket before QoS 0 is dropped. */
  maxSocketBacklog: number;
}

export function defaultOptions(): BrokerOptions {
  return {
    listeners: [],
    allowAnonymous: true,
    allowZeroLengthClientid: true,
    autoIdPrefix: 'auto-',
    maxInflightMessages: 20,
    maxInflightBytes: 0,
    maxQueuedMessages: 1000,
    maxQueuedBytes: 0,
    queueQos0Messages: false,
    messageSizeLimit: 0,
    maxPacketSize: 0,
    maxKeepalive: 65535,
    retainAvailable: true,
    responseTopicPrefix: 'response',
    memoryLimit: 0,
    upgradeOutgoingQos: false,
    checkRetainSource: false,
    setTcpNodelay: false,
    sysInterval: 10,
    persistentClientExpiration: 0,
    connectTimeout: 20,
    maxTopicAlias: 10,
    maxSocketBacklog: 16 * 1024 * 1024,
    websocketsHeadersSize: 0,
    websocketsLogLevel: 0,
  };
}
