/**
 * The parser's state while it walks a configuration file and its include_dir files:
 * which listener and bridge the next lines apply to, and which options were already set
 * (Mosquitto refuses a string option given twice in one scope).
 */
import { createDefaultConfig, createListener, createSecurityOptions } from './defaults.js';
import type { BridgeConfig, BrokerConfig, ConfigMessage, ListenerConfig, SecurityOptions } from './types.js';

export class ParseState {
  readonly config: BrokerConfig = createDefaultConfig();
  readonly messages: ConfigMessage[] = [];
  /** Mosquitto's implicit listener: takes listener options given before any `listener` line. */
  readonly defaultListener: ListenerConfig = createListener(0, null, createSecurityOptions());
  /** The default listener becomes real once `port`, `bind_address` or one of some listener options is given. */
  defaultListenerUsed = false;
  defaultPortSet = false;
  /** The last `listener` line's listener; null before the first one. */
  currentListener: ListenerConfig | null = null;
  /** The last `connection` line's bridge. */
  currentBridge: BridgeConfig | null = null;
  /** A security option has been given (per_listener_settings must come before them). */
  securitySet = false;
  logTypeSet = false;
  redisStoreSet = false;
  /** Depth of include_dir nesting: include_dir is only honoured in the main file. */
  level = 0;
  private readonly seen = new WeakMap<object, Set<string>>();

  constructor() {
    this.defaultListener.isDefault = true;
    this.defaultListener.port = 0;
  }

  warn(text: string): void {
    this.messages.push({ level: 'warning', text });
  }

  note(text: string): void {
    this.messages.push({ level: 'notice', text });
  }

  /**
   * Mosquitto prints `Error: Empty NAME value in configuration.` for a few options
   * (log_type, protocol, max_connections, persistent_client_expiration) and then starts
   * anyway; we report the same line without stopping.
   */
  emptyNonFatal(name: string): void {
    this.messages.push({ level: 'error', text: `Error: Empty ${name} value in configuration.` });
  }

  info(text: string): void {
    this.messages.push({ level: 'information', text });
  }

  /** Records that `key` was set in `scope`; returns true if it already was. */
  markSet(scope: object, key: string): boolean {
    let s = this.seen.get(scope);
    if (!s) {
      s = new Set();
      this.seen.set(scope, s);
    }
    if (s.has(key)) return true;
    s.add(key);
    return false;
  }

  isSet(scope: object, key: string): boolean {
    return this.seen.get(scope)?.has(key) ?? false;
  }

  /**
   * The listener a listener option applies to. Before the first `listener` line that is
   * the default listener; `activates` says whether Mosquitto then starts that listener
   * (it does for e.g. cafile or max_connections, not for protocol or http_dir).
   */
  listener(activates: boolean): ListenerConfig {
    if (this.currentListener) return this.currentListener;
    if (activates) this.defaultListenerUsed = true;
    return this.defaultListener;
  }

  /**
   * Where a security option goes: the global settings, or with per_listener_settings
   * true the current listener's (the default listener's before any `listener` line).
   */
  security(activates: boolean): SecurityOptions {
    this.securitySet = true;
    if (!this.config.perListenerSettings) return this.config.security;
    return this.listener(activates).security;
  }

  /** per_listener_settings turned on: no listener keeps sharing the global settings. */
  separateListenerSecurity(): void {
    for (const l of this.config.listeners) {
      if (l.security === this.config.security) l.security = createSecurityOptions();
    }
  }

  /** The security object a new listener starts with. */
  newListenerSecurity(): SecurityOptions {
    return this.config.perListenerSettings ? createSecurityOptions() : this.config.security;
  }
}
