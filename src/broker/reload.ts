/**
 * SIGHUP: what mosquitto.conf(5) marks "Reloaded on reload signal" takes effect from a
 * freshly parsed configuration: the options the option table (option-table.ts) marks
 * `reload`. Listeners (listener, port, bind_address, bind_interface,
 * socket_domain, mount_point, max_connections, protocol, use_username_as_clientid, ...),
 * pid_file and user are not reloaded, as in Mosquitto. password_file, acl_file and
 * psk_file are reloaded by their own targets (security-files.ts); persistence options by
 * the persistence plugin.
 */
import type { BrokerConfig } from './config/types.js';
import { ALL_LOG_TYPES, ConfigError, parseConfigFile } from './config/index.js';
import { logFromConfig, optionsFromConfig } from './from-config.js';
import { RELOADED_OPTIONS } from './option-table.js';
import type { ListenerSettings } from './options.js';
import type { BrokerCore } from './core.js';

/** Per-listener settings that a reload replaces (security ones when per_listener_settings is true). */
const RELOADED_PER_LISTENER: readonly (keyof ListenerSettings)[] = [
  'allowAnonymous',
  'allowZeroLengthClientid',
  'autoIdPrefix',
  'clientidPrefixes',
];

/**
 * Applies the reloadable options of `config` to a running broker. New values apply to new
 * connections and new messages; connected clients keep what they were told in CONNACK.
 */
export function reloadConfig(broker: BrokerCore, config: BrokerConfig): void {
  // Logging first, so that what follows is logged the new way. The log object stays the
  // same (everything holds a reference to it); its destinations are reopened, which also
  // lets logrotate move a log file away before SIGHUP, as with Mosquitto.
  broker.log.replaceWith(logFromConfig(config));

  const fresh = optionsFromConfig(config);
  const o = broker.options as unknown as Record<string, unknown>;
  const oldSysInterval = broker.options.sysInterval;
  for (const key of RELOADED_OPTIONS) o[key] = fresh[key];
  if (broker.options.sysInterval !== oldSysInterval) broker.sys.setInterval(broker.options.sysInterval);

  // Listeners are matched in order, as they were opened; a listener that is not in the
  // new file keeps its settings (Mosquitto does not reopen listeners on reload either).
  const n = Math.min(broker.listeners.length, fresh.listeners.length);
  for (let i = 0; i < n; i++) {
    const target = broker.listeners[i].settings as unknown as Record<string, unknown>;
    const source = fresh.listeners[i];
    for (const key of RELOADED_PER_LISTENER) target[key] = source[key];
  }
}

/**
 * SIGHUP as Mosquitto: re-reads the configuration file the broker started with and applies
 * it. A file that no longer parses is reported with Mosquitto's lines (`Error: Unknown
 * configuration variable "x".`, `Error found at FILE:LINE.`) and the broker runs on
 * unchanged. Returns the new configuration, or null if nothing was reloaded.
 */
export function reloadFromFile(broker: BrokerCore, current: BrokerConfig): BrokerConfig | null {
  if (current.configFile === null) return null;
  let fresh: BrokerConfig;
  try {
    fresh = parseConfigFile(current.configFile).config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const line of e.lines) broker.log.error(line);
    return null;
  }
  // Command-line flags outlive the file: -d, and -v (every log type, as at start-up).
  fresh.daemon = current.daemon;
  fresh.verbose = current.verbose;
  if (current.verbose) fresh.log.types = [...ALL_LOG_TYPES];
  reloadConfig(broker, fresh);
  return fresh;
}
