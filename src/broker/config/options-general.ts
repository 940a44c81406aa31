/**
 * mosquitto.conf(5) "General options" that apply to the whole broker: persistence,
 * limits, $SYS, privileges, and the deprecated options Mosquitto 2.0 still accepts.
 */
import { OptionError, unsupportedOption } from './errors.js';
import type { OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { BrokerConfig } from './types.js';
import {
  atol,
  type LineTokens,
  parseBool,
  parseDuration,
  parseInt32,
  parseString,
  requireWord,
  toUint32,
} from './values.js';

type BoolKey = {
  [K in keyof BrokerConfig]: BrokerConfig[K] extends boolean ? K : never;
}[keyof BrokerConfig];

function boolOption(key: BoolKey) {
  return (st: ParseState, t: LineTokens, name: string): void => {
    st.config[key] = parseBool(t, name);
  };
}

/** A string option stored once globally: a second one is `Duplicate NAME value`. */
function globalString(set: (c: BrokerConfig, v: string) => void) {
  return (st: ParseState, t: LineTokens, name: string): void => {
    const v = parseString(t, name, st.isSet(st.config, name));
    st.markSet(st.config, name);
    set(st.config, v);
  };
}

/** The largest payload MQTT can carry (MQTT-2.2.3: remaining length <= 268435455). */
const MAX_MQTT_PAYLOAD = 268435455;

export const generalOptions: OptionTable = {
  allow_duplicate_messages: (st, t, name) => {
    st.warn(
      "The 'allow_duplicate_messages' option is now deprecated and will be removed in a future version. The behaviour will default to true.",
    );
    st.config.allowDuplicateMessages = parseBool(t, name);
  },
  autosave_interval: (st, t, name) => {
    st.config.autosaveInterval = parseInt32(t, name);
  },
  autosave_on_changes: boolOption('autosaveOnChanges'),
  check_retain_source: boolOption('checkRetainSource'),
  clientid_prefixes: (st, t, name) => {
    st.warn("The 'clientid_prefixes' option is now deprecated and will be removed in a future version.");
    globalString((c, v) => (c.clientidPrefixes = v))(st, t, name);
  },
  max_inflight_bytes: (st, t, name) => {
    st.config.maxInflightBytes = Math.max(0, atol(requireWord(t, name)));
  },
  max_inflight_messages: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v > 65535) throw new OptionError('Error: max_inflight_messages must be <= 65535.');
    // Mosquitto takes a negative value as 0: no maximum.
    st.config.maxInflightMessages = Math.max(0, v);
  },
  max_keepalive: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 10 || v > 65535) throw new OptionError(`Error: Invalid max_keepalive value (${v}).`);
    st.config.maxKeepalive = v;
  },
  max_packet_size: (st, t, name) => {
    const v = parseInt32(t, name);
    // Below 20 bytes a client could not even subscribe (mosquitto.conf(5)).
    if (v < 20) throw new OptionError(`Error: Invalid max_packet_size value (${v}).`);
    st.config.maxPacketSize = v;
  },
  max_queued_bytes: (st, t, name) => {
    st.config.maxQueuedBytes = Math.max(0, atol(requireWord(t, name)));
  },
  max_queued_messages: (st, t, name) => {
    st.config.maxQueuedMessages = Math.max(0, parseInt32(t, name));
  },
  memory_limit: (st, t, name) => {
    const v = atol(requireWord(t, name));
    if (v < 0) throw new OptionError(`Error: Invalid memory_limit value (${v}).`);
    st.config.memoryLimit = v;
  },
  message_size_limit: (st, t, name) => {
    st.note('Note: It is recommended to replace `message_size_limit` with `max_packet_size`.');
    const v = toUint32(parseInt32(t, name));
    if (v > MAX_MQTT_PAYLOAD) throw new OptionError(`Error: Invalid message_size_limit value (${v}).`);
    st.config.messageSizeLimit = v;
  },
  persistence: boolOption('persistence'),
  // An old name of `persistence` that Mosquitto still reads.
  retained_persistence: boolOption('persistence'),
  persistence_file: globalString((c, v) => (c.persistenceFile = v)),
  persistence_location: globalString((c, v) => (c.persistenceLocation = v)),
  persistent_client_expiration: (st, t, name) => {
    const w = t.next();
    // Mosquitto prints this error but carries on with the option unset.
    if (w === null) return st.emptyNonFatal(name);
    const secs = parseDuration(w);
    if (secs === null) throw new OptionError('Error: Invalid persistent_client_expiration duration in configuration.');
    st.config.persistentClientExpiration = secs;
  },
  pid_file: globalString((c, v) => (c.pidFile = v)),
  queue_qos0_messages: boolOption('queueQos0Messages'),
  // A ts-mosquitto extension: the topic prefix of the Response Information sent to MQTT 5
  // clients that request it (handlers/connect.ts). A wildcard would widen what it names.
  response_topic_prefix: (st, t, name) => {
    const v = parseString(t, name, st.isSet(st.config, name));
    st.markSet(st.config, name);
    if (v.includes('+') || v.includes('#') || v.endsWith('/')) {
      throw new OptionError('Error: Invalid response_topic_prefix value in configuration.');
    }
    st.config.responseTopicPrefix = v;
  },
  retain_available: boolOption('retainAvailable'),
  retry_interval: (st) => {
    st.warn('Warning: The retry_interval option is no longer available.');
  },
  set_tcp_nodelay: boolOption('setTcpNodelay'),
  sys_interval: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 0 || v > 65535) throw new OptionError(`Error: Invalid sys_interval value (${v}).`);
    st.config.sysInterval = v;
  },
  upgrade_outgoing_qos: boolOption('upgradeOutgoingQos'),
  user: (st, t, name) => {
    globalString((c, v) => (c.user = v))(st, t, name);
    st.config.userSet = true;
  },
  websockets_headers_size: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 0 || v > 65535) {
      throw new OptionError('Error: Websockets headers size must be between 0 and 65535 inclusive.');
    }
    st.config.websocketsHeadersSize = v;
  },
};

/** The security options; their scope follows per_listener_settings. */
export const securityOptions: OptionTable = {
  per_listener_settings: (st, t, name) => {
    const v = parseBool(t, name);
    if (v && st.securitySet) {
      throw new OptionError('Error: per_listener_settings must be set before any other security settings.');
    }
    st.config.perListenerSettings = v;
    // Listeners opened before this line get settings of their own from now on.
    if (v) st.separateListenerSecurity();
  },
  acl_file: (st, t, name) => {
    const sec = st.security(false);
    sec.aclFile = parseString(t, name, st.markSet(sec, name));
  },
  allow_anonymous: (st, t, name) => {
    st.security(false).allowAnonymous = parseBool(t, name);
  },
  allow_zero_length_clientid: (st, t, name) => {
    st.security(true).allowZeroLengthClientid = parseBool(t, name);
  },
  auto_id_prefix: (st, t, name) => {
    const sec = st.security(false);
    sec.autoIdPrefix = parseString(t, name, st.markSet(sec, name));
  },
  password_file: (st, t, name) => {
    const sec = st.security(true);
    sec.passwordFile = parseString(t, name, st.markSet(sec, name));
  },
  psk_file: (st, t, name) => {
    const sec = st.security(true);
    sec.pskFile = parseString(t, name, st.markSet(sec, name));
  },
  // Mosquitto's plugins are C shared objects; a Node broker cannot load them. Their
  // options then meet Mosquitto's own error for an option without a plugin.
  auth_plugin: (_st, _t, name) => {
    throw unsupportedOption(name, 'it loads a C plugin');
  },
  plugin: (_st, _t, name) => {
    throw unsupportedOption(name, 'it loads a C plugin');
  },
  auth_plugin_deny_special_chars: () => {
    throw new OptionError(
      'Error: An auth_plugin_deny_special_chars option exists in the config file without an auth_plugin.',
    );
  },
};

/** auth_opt_* and plugin_opt_*: options for a plugin, which we never have. */
export function isPluginOption(name: string): boolean {
  return name.startsWith('auth_opt_') || name.startsWith('plugin_opt_');
}

export function pluginOption(): never {
  throw new OptionError('Error: An auth_opt_ option exists in the config file without an auth_plugin.');
}
