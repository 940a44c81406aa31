/**
 * Listener options (mosquitto.conf(5) "Listeners", "Certificate based SSL/TLS Support"
 * and "Pre-shared-key based SSL/TLS Support"). An option given before the first
 * `listener` line configures Mosquitto's implicit default listener on port 1883.
 */
import { isValidMqttString, hasWildcard } from '../../protocol/topic.js';
import { emptyValue, OptionError, unsupportedOption } from './errors.js';
import { createListener } from './defaults.js';
import type { KeysOfType, OptionHandler, OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { ListenerConfig } from './types.js';
import { atoi, type LineTokens, parseBool, parseInt32, parseString } from './values.js';

type StringKey = KeysOfType<ListenerConfig, string | null>;
type BoolKey = KeysOfType<ListenerConfig, boolean>;

/**
 * A string option of the current listener; `activates` says whether it brings the
 * default listener to life when given before any `listener` line.
 */
function listenerString(key: StringKey, activates: boolean, check?: (st: ParseState, l: ListenerConfig) => void) {
  return (st: ParseState, t: LineTokens, name: string): void => {
    const l = st.listener(activates);
    const v = parseString(t, name, st.markSet(l, name));
    check?.(st, l);
    (l[key] as string | null) = v;
  };
}

function listenerBool(key: BoolKey): OptionHandler {
  return (st, t, name) => {
    const l = st.listener(true);
    l[key] = parseBool(t, name);
  };
}

/** Mosquitto refuses a cafile on a listener that already has a psk_hint (and only that combination). */
function notWithPsk(_st: ParseState, l: ListenerConfig): void {
  if (l.pskHint !== null) {
    throw new OptionError('Error: Cannot use both certificate and psk encryption in a single listener.');
  }
}

function listenerLine(st: ParseState, t: LineTokens, name: string): void {
  const portWord = t.next();
  if (portWord === null) throw emptyValue(name);
  const port = atoi(portWord);
  if (port < 0 || port > 65535) throw new OptionError(`Error: Invalid port value (${port}).`);
  const address = t.next();
  if (port === 0 && address === null) {
    throw new OptionError('Error: A listener with port 0 must provide a Unix socket path.');
  }
  const l = createListener(port, port === 0 ? null : address, st.newListenerSecurity());
  if (port === 0) l.unixPath = address;
  st.config.listeners.push(l);
  st.currentListener = l;
}

function portLine(st: ParseState, t: LineTokens, name: string): void {
  st.warn("The 'port' option is now deprecated and will be removed in a future version. Please use 'listener' instead.");
  const w = t.next();
  if (w === null) throw emptyValue(name);
  const port = atoi(w);
  if (port < 1 || port > 65535) throw new OptionError(`Error: Invalid port value (${port}).`);
  if (st.defaultPortSet) st.warn('Warning: Default listener port specified multiple times. Only the latest will be used.');
  st.defaultPortSet = true;
  st.defaultListener.port = port;
  st.defaultListenerUsed = true;
}

function bindAddress(st: ParseState, t: LineTokens, name: string): void {
  // Mosquitto's own (odd) wording, kept as is.
  st.warn(
    "The 'bind_address' option is now deprecated and will be removed in a future version. The behaviour will default to true.",
  );
  const l = st.defaultListener;
  const label = `default listener ${name}`;
  l.host = parseString(t, label, st.markSet(l, name), label);
  st.defaultListenerUsed = true;
}

function maxConnections(st: ParseState, t: LineTokens, name: string): void {
  const w = t.next();
  // Mosquitto reports an empty value and starts anyway.
  if (w === null) return st.emptyNonFatal(name);
  const v = atoi(w);
  st.listener(true).maxConnections = v < 0 ? -1 : v;
}

function maxQos(st: ParseState, t: LineTokens, name: string): void {
  const l = st.listener(true);
  const v = parseInt32(t, name);
  if (v < 0 || v > 2) throw new OptionError('Error: max_qos must be between 0 and 2 inclusive.');
  l.maxQos = v as 0 | 1 | 2;
}

function mountPoint(st: ParseState, t: LineTokens, name: string): void {
  const l = st.currentListener;
  if (l === null) {
    throw new OptionError(
      'Error: You must use create a listener before using the mount_point option in the configuration file.',
    );
  }
  const v = parseString(t, name, st.markSet(l, name));
  if (hasWildcard(v) || !isValidMqttString(v)) {
    throw new OptionError(`Error: Invalid mount_point '${v}'. Does it contain a wildcard character?`);
  }
  l.mountPoint = v;
}

function protocol(st: ParseState, t: LineTokens, name: string): void {
  const w = t.next();
  if (w === null) return st.emptyNonFatal(name);
  // 'http' is ts-mosquitto's own: /metrics, /healthz and the dashboard (observe/).
  if (w !== 'mqtt' && w !== 'websockets' && w !== 'http') throw new OptionError(`Error: Invalid protocol value (${w}).`);
  st.listener(false).protocol = w;
}

function socketDomain(st: ParseState, t: LineTokens, name: string): void {
  const w = t.next();
  if (w === null) throw emptyValue(name);
  if (w !== 'ipv4' && w !== 'ipv6') throw new OptionError(`Error: Invalid socket_domain value "${w}" in configuration.`);
  st.listener(true).socketDomain = w;
}

function maxTopicAlias(st: ParseState, t: LineTokens, name: string): void {
  const v = parseInt32(t, name);
  if (v < 0 || v > 65535) throw new OptionError('Error: Invalid max_topic_alias value in configuration.');
  st.listener(false).maxTopicAlias = v;
}

const NO_ENGINE = 'OpenSSL engines are not available in Node.js';

export const listenerOptions: OptionTable = {
  listener: listenerLine,
  port: portLine,
  bind_address: bindAddress,
  bind_interface: listenerString('bindInterface', true),
  http_dir: listenerString('httpDir', false),
  max_connections: maxConnections,
  max_qos: maxQos,
  // An alias Mosquitto 2.0 reads with the same meaning and messages.
  maximum_qos: maxQos,
  max_topic_alias: maxTopicAlias,
  mount_point: mountPoint,
  protocol,
  socket_domain: socketDomain,
  use_username_as_clientid: listenerBool('useUsernameAsClientid'),
  cafile: listenerString('cafile', true, notWithPsk),
  capath: listenerString('capath', true),
  certfile: listenerString('certfile', true),
  keyfile: listenerString('keyfile', true),
  ciphers: listenerString('ciphers', true),
  'ciphers_tls1.3': listenerString('ciphersTls13', true),
  crlfile: listenerString('crlfile', true),
  dhparamfile: listenerString('dhparamfile', true),
  require_certificate: listenerBool('requireCertificate'),
  tls_version: listenerString('tlsVersion', false),
  use_identity_as_username: listenerBool('useIdentityAsUsername'),
  use_subject_as_username: listenerBool('useSubjectAsUsername'),
  psk_hint: listenerString('pskHint', true),
  tls_keyform: (st, t, name) => {
    const w = t.next();
    if (w === null) throw emptyValue(name);
    if (w === 'engine') throw unsupportedOption('tls_keyform engine', NO_ENGINE);
    // Anything else means PEM for Mosquitto too; nothing to record.
    st.listener(false);
  },
  tls_engine: (_st, _t, name) => {
    throw unsupportedOption(name, NO_ENGINE);
  },
  tls_engine_kpass_sha1: (_st, _t, name) => {
    throw unsupportedOption(name, NO_ENGINE);
  },
};
