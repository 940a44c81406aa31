/**
 * mosquitto.conf(5) "General options" that are not broker options of the option table
 * (../option-table.ts, read by options-table.ts): persistence, privileges, and the
 * deprecated options Mosquitto 2.0 still accepts; and the security options.
 */
import { OptionError, unsupportedOption } from './errors.js';
import type { KeysOfType, OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { BrokerConfig } from './types.js';
import { type LineTokens, parseBool, parseInt32, parseString } from './values.js';

type BoolKey = KeysOfType<BrokerConfig, boolean>;

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
  clientid_prefixes: (st, t, name) => {
    st.warn("The 'clientid_prefixes' option is now deprecated and will be removed in a future version.");
    globalString((c, v) => (c.clientidPrefixes = v))(st, t, name);
  },
  persistence: boolOption('persistence'),
  // An old name of `persistence` that Mosquitto still reads.
  retained_persistence: boolOption('persistence'),
  persistence_file: globalString((c, v) => (c.persistenceFile = v)),
  persistence_location: globalString((c, v) => (c.persistenceLocation = v)),
  pid_file: globalString((c, v) => (c.pidFile = v)),
  retry_interval: (st) => {
    st.warn('Warning: The retry_interval option is no longer available.');
  },
  user: (st, t, name) => {
    globalString((c, v) => (c.user = v))(st, t, name);
    st.config.userSet = true;
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
