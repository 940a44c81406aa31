/**
 * Bridge options (mosquitto.conf(5) "Configuring bridges"): `connection NAME` opens a
 * bridge section and the bridge options after it configure that bridge.
 */
import { hasWildcard, isValidMqttString, isValidTopicFilter } from '../../protocol/topic.js';
import { emptyValue, OptionError, unsupportedOption } from './errors.js';
import { createBridge } from './defaults.js';
import type { KeysOfType, OptionHandler, OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { BridgeConfig, BridgeDirection, BridgeProtocolVersion, BridgeStartType } from './types.js';
import { atoi, type LineTokens, parseBool, parseInt32, parseString, requireWord } from './values.js';

type StringKey = KeysOfType<BridgeConfig, string | null>;
type BoolKey = KeysOfType<BridgeConfig, boolean>;

/** The bridge a bridge option applies to; Mosquitto refuses one outside a `connection` section. */
function bridge(st: ParseState, period = '.'): BridgeConfig {
  if (st.currentBridge === null) throw new OptionError(`Error: Invalid bridge configuration${period}`);
  return st.currentBridge;
}

/**
 * An integer option of the bridge that Mosquitto raises to `min` with a warning when lower
 * (and refuses above `over.max`).
 */
function bridgeIntAtLeast(
  key: 'idleTimeout' | 'keepaliveInterval' | 'threshold',
  min: number,
  warning: string,
  over?: { max: number; error: string },
): OptionHandler {
  return (st, t, name) => {
    const b = bridge(st);
    const v = parseInt32(t, name);
    if (over !== undefined && v > over.max) throw new OptionError(over.error);
    if (v < min) st.warn(warning);
    b[key] = v < min ? min : v;
  };
}

function hasCertificate(b: BridgeConfig): boolean {
  return b.cafile !== null || b.capath !== null || b.certfile !== null || b.keyfile !== null;
}

/**
 * A string option of the current bridge. `label` is the name Mosquitto uses in its
 * Empty/Duplicate messages ("bridge remote clientid" for remote_clientid, say).
 */
function bridgeString(key: StringKey, label?: string, check?: (b: BridgeConfig) => void): OptionHandler {
  return (st, t, name) => {
    const b = bridge(st);
    const shown = label ?? name;
    const v = parseString(t, shown, st.markSet(b, key), shown);
    check?.(b);
    (b[key] as string | null) = v;
  };
}

function bridgeBool(key: BoolKey, period?: string): OptionHandler {
  return (st, t, name) => {
    const b = bridge(st, period);
    b[key] = parseBool(t, name);
  };
}

function certCheck(b: BridgeConfig): void {
  if (b.identity !== null || b.psk !== null) {
    throw new OptionError('Error: Cannot use both certificate and psk encryption in a single bridge.');
  }
}

function connection(st: ParseState, t: LineTokens, name: string): void {
  const n = t.next();
  if (n === null) throw emptyValue(name);
  if (st.config.bridges.some((b) => b.name === n)) throw new OptionError(`Error: Duplicate bridge name "${n}".`);
  const b = createBridge(n);
  st.config.bridges.push(b);
  st.currentBridge = b;
}

function address(st: ParseState, t: LineTokens): void {
  const b = bridge(st);
  if (b.addresses.length > 0) throw new OptionError('Error: Invalid bridge configuration.');
  let w = t.next();
  if (w === null) throw emptyValue('address');
  for (; w !== null; w = t.next()) {
    // The port follows the last colon, so an IPv6 address needs one ("::1:1883").
    const colon = w.lastIndexOf(':');
    let port = 1883;
    let host = w;
    if (colon !== -1) {
      host = w.slice(0, colon);
      port = atoi(w.slice(colon + 1));
      if (port < 1 || port > 65535) throw new OptionError(`Error: Invalid port value (${port}).`);
    }
    b.addresses.push({ host, port });
  }
}

/** `""` is the place marker for an empty pattern or prefix. */
function unquote(w: string): string | null {
  return w === '""' ? null : w;
}

function prefixCheck(prefix: string | null, side: 'local' | 'remote'): void {
  if (prefix !== null && (hasWildcard(prefix) || !isValidMqttString(prefix))) {
    throw new OptionError(`Error: Invalid bridge topic ${side} prefix '${prefix}'.`);
  }
}

/** Mosquitto names the local side in this message whichever prefix is wrong, and then reports running out of memory. */
function combinationCheck(full: string): void {
  if (!isValidTopicFilter(full)) {
    throw new OptionError(
      `Error: Invalid bridge topic local prefix and pattern combination '${full}'.\nError: Out of memory.`,
    );
  }
}

function topic(st: ParseState, t: LineTokens, name: string): void {
  const b = bridge(st);
  const p = t.next();
  if (p === null) throw emptyValue(name);
  const pattern = unquote(p) ?? '';
  let direction: BridgeDirection = 'out';
  let qos = 0;
  let localPrefix: string | null = null;
  let remotePrefix: string | null = null;
  const d = t.next();
  if (d !== null) {
    const dl = d.toLowerCase();
    if (dl !== 'out' && dl !== 'in' && dl !== 'both') {
      throw new OptionError(`Error: Invalid bridge topic direction '${d}'.`);
    }
    direction = dl;
    const q = t.next();
    if (q !== null) {
      qos = atoi(q);
      if (qos < 0 || qos > 2) throw new OptionError(`Error: Invalid bridge QoS level '${q}'.`);
      const lp = t.next();
      if (lp !== null) {
        localPrefix = unquote(lp);
        prefixCheck(localPrefix, 'local');
        const rp = t.next();
        if (rp !== null) {
          remotePrefix = unquote(rp);
          prefixCheck(remotePrefix, 'remote');
        }
      }
    }
  }
  // An empty pattern maps one local topic to one remote topic: both prefixes are needed.
  if (pattern === '' && (localPrefix === null || remotePrefix === null)) {
    throw new OptionError('Error: Invalid bridge remapping.');
  }
  const localTopic = (localPrefix ?? '') + pattern;
  const remoteTopic = (remotePrefix ?? '') + pattern;
  if (localPrefix !== null) combinationCheck(localTopic);
  if (remotePrefix !== null) combinationCheck(remoteTopic);
  b.topics.push({ pattern, direction, qos: qos as 0 | 1 | 2, localPrefix, remotePrefix, localTopic, remoteTopic });
}

function restartTimeout(st: ParseState, t: LineTokens, name: string): void {
  const b = bridge(st);
  let base = parseInt32(t, name);
  const capWord = t.next();
  const cap = capWord === null ? null : atoi(capWord);
  if (cap !== null && cap < base) throw new OptionError('Error: backoff cap is lower than the base in restart_timeout.');
  if (base < 1) {
    st.warn('restart_timeout interval too low, using 1 second.');
    base = 1;
  }
  b.restartTimeout = { base, cap };
}

const START_TYPES = new Set(['automatic', 'lazy', 'once']);
const PROTOCOL_VERSIONS = new Set(['mqttv31', 'mqttv311', 'mqttv50']);

export const bridgeOptions: OptionTable = {
  connection,
  address: (st, t) => address(st, t),
  addresses: (st, t) => address(st, t),
  topic,
  bridge_attempt_unsubscribe: bridgeBool('attemptUnsubscribe'),
  bridge_bind_address: bridgeString('bindAddress'),
  bridge_max_packet_size: (st, t, name) => {
    const b = bridge(st);
    b.maxPacketSize = Math.max(0, parseInt32(t, name));
  },
  bridge_outgoing_retain: bridgeBool('outgoingRetain'),
  bridge_protocol_version: (st, t, name) => {
    const b = bridge(st);
    const w = requireWord(t, name);
    if (!PROTOCOL_VERSIONS.has(w)) throw new OptionError(`Error: Invalid bridge_protocol_version value (${w}).`);
    b.protocolVersion = w as BridgeProtocolVersion;
  },
  cleansession: bridgeBool('cleansession'),
  local_cleansession: (st, t, name) => {
    const b = bridge(st);
    b.localCleansession = parseBool(t, name);
  },
  idle_timeout: bridgeIntAtLeast('idleTimeout', 1, 'idle_timeout interval too low, using 1 second.'),
  keepalive_interval: bridgeIntAtLeast('keepaliveInterval', 5, 'keepalive interval too low, using 5 seconds.', {
    max: 65535,
    error: 'Error: Bridge keepalive value too high.',
  }),
  local_clientid: bridgeString('localClientid', 'bridge local clientd'),
  local_password: bridgeString('localPassword', 'bridge local_password'),
  local_username: bridgeString('localUsername', 'bridge local_username'),
  notifications: bridgeBool('notifications'),
  // Mosquitto's message for this one has no full stop.
  notifications_local_only: bridgeBool('notificationsLocalOnly', ''),
  notification_topic: bridgeString('notificationTopic'),
  remote_clientid: bridgeString('remoteClientid', 'bridge remote clientid'),
  clientid: bridgeString('remoteClientid', 'bridge remote clientid'),
  remote_password: bridgeString('remotePassword', 'bridge remote_password'),
  password: bridgeString('remotePassword', 'bridge remote_password'),
  remote_username: bridgeString('remoteUsername', 'bridge remote_username'),
  username: bridgeString('remoteUsername', 'bridge remote_username'),
  restart_timeout: restartTimeout,
  round_robin: bridgeBool('roundRobin'),
  start_type: (st, t, name) => {
    const b = bridge(st);
    const w = requireWord(t, name);
    if (w === 'manual') throw new OptionError('Error: Manual start_type not supported.');
    if (!START_TYPES.has(w)) throw new OptionError(`Error: Invalid start_type value in configuration (${w}).`);
    b.startType = w as BridgeStartType;
  },
  threshold: bridgeIntAtLeast('threshold', 1, 'threshold too low, using 1 message.'),
  try_private: bridgeBool('tryPrivate'),
  bridge_alpn: bridgeString('alpn'),
  bridge_cafile: bridgeString('cafile', undefined, certCheck),
  bridge_capath: bridgeString('capath', undefined, certCheck),
  bridge_certfile: bridgeString('certfile', undefined, certCheck),
  bridge_keyfile: bridgeString('keyfile', undefined, certCheck),
  bridge_identity: bridgeString('identity', undefined, (b) => {
    if (hasCertificate(b)) {
      throw new OptionError('Error: Cannot use both certificate and identity encryption in a single bridge.');
    }
  }),
  bridge_psk: bridgeString('psk', undefined, (b) => {
    if (hasCertificate(b)) throw new OptionError('Error: Cannot use both certificate and psk encryption in a single bridge.');
  }),
  bridge_insecure: (st, t, name) => {
    const b = bridge(st);
    b.insecure = parseBool(t, name);
    if (b.insecure) st.warn(`Warning: Bridge ${b.name} using insecure mode.`);
  },
  bridge_require_ocsp: (st, t, name) => {
    const b = bridge(st);
    // Node's TLS hands over a stapled OCSP response but does not check it, and nothing here
    // parses one: refusing is honest, accepting would promise a check that is not made.
    if (parseBool(t, name)) throw unsupportedOption(name, 'OCSP responses are not checked');
    b.requireOcsp = false;
  },
  bridge_tls_version: bridgeString('tlsVersion'),
};
