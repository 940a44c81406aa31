/**
 * The broker's runtime settings: what a mosquitto.conf becomes once parsed (config/), or
 * what an embedding program passes to `new Broker(...)`. Names follow mosquitto.conf.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator, Authorizer } from './security.js';
import type { ListenerConfig } from './config/types.js';
import { optionDefaults, type TableOptions } from './option-table.js';

export interface ListenerSettings {
  /** TCP port, 0 picks a free one; ignored with unixPath. */
  port: number;
  /** Bind address; undefined binds all. */
  host?: string;
  unixPath?: string;
  family?: 4 | 6;
  /** bind_interface: the interface whose address is bound when the listener opens (bind-interface.ts). */
  bindInterface?: string;
  /** 'mqtt' or 'websockets'; 'http' listeners are opened by the observe plugin, not the broker. */
  protocol?: 'mqtt' | 'websockets' | 'http';
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
  /** websockets listeners without http_dir: answers plain HTTP requests (the dashboard, observe/). */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** The listener as parsed from mosquitto.conf: TLS and WebSocket settings are read from it. */
  config?: ListenerConfig;
}

/**
 * The option fields (limits, timers, flags) come from the option table (option-table.ts),
 * with their defaults; what is here is what a table of scalar values cannot hold.
 */
export interface BrokerOptions extends TableOptions {
  listeners: ListenerSettings[];
  /** Mosquitto's local-only default mode: bind loopback addresses, log the warning lines. */
  localOnly?: boolean;
  authenticator?: Authenticator;
  authorizer?: Authorizer;
}

export function defaultOptions(): BrokerOptions {
  return { listeners: [], ...optionDefaults() };
}
