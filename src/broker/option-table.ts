/**
 * The broker's options, each in one place: its mosquitto.conf name, type, default, whether
 * SIGHUP reloads it, and (when the plain reading is not enough) how its value is read.
 *
 * Everything else is derived from this table: the option fields of BrokerOptions
 * (options.ts) and of BrokerConfig (config/types.ts), the defaults of both, the parser's
 * handlers (config/options-table.ts), the copy from a parsed file to the runtime options
 * (from-config.ts) and what a reload replaces (reload.ts). Adding an option is adding an
 * entry here; the code that acts on it reads `broker.options.<key>`.
 *
 * Defaults and "Reloaded on reload signal" follow mosquitto.conf(5) of Mosquitto 2.0,
 * or what Mosquitto 2.0.11 does where the two differ.
 */
import { OptionError } from './config/errors.js';
import { atol, type LineTokens, parseBool, parseDuration, parseInt32, parseString, requireWord, toUint32 } from './config/values.js';

/** What an option's `parse` may use besides its words: the parse state, as far as options need it. */
export interface OptionContext {
  warn(text: string): void;
  note(text: string): void;
  /** Reports `Error: Empty NAME value in configuration.` and carries on (Mosquitto does for a few options). */
  emptyNonFatal(name: string): void;
  /** True if this option was already given (a string option given twice is an error). */
  isSet(name: string): boolean;
  markSet(name: string): void;
}

/**
 * Reads the value of option `name` from the rest of its line, or throws an OptionError in
 * Mosquitto's words; undefined leaves the value as it was.
 */
type Parse<T> = (t: LineTokens, name: string, ctx: OptionContext) => T | undefined;

interface SpecBase {
  /** The mosquitto.conf name; null for options only an embedding program sets (`new Broker({...})`). */
  readonly name: string | null;
  /** Whether SIGHUP applies a new value (mosquitto.conf(5): "Reloaded on reload signal"). */
  readonly reload: boolean;
  /**
   * Where the parsed file keeps it: the top level of BrokerConfig (unset), its `log` part,
   * or its security settings, whose scope follows per_listener_settings (those are read by
   * config/options-general.ts's securityOptions, not through `parse`).
   */
  readonly scope?: 'log' | 'security';
}
interface BooleanSpec extends SpecBase {
  readonly type: 'boolean';
  readonly default: boolean;
  readonly parse?: Parse<boolean>;
}
interface NumberSpec extends SpecBase {
  readonly type: 'number';
  readonly default: number;
  readonly parse?: Parse<number>;
}
interface StringSpec extends SpecBase {
  readonly type: 'string';
  readonly default: string;
  readonly parse?: Parse<string>;
}
export type OptionSpec = BooleanSpec | NumberSpec | StringSpec;

/** An integer from `lo` to `hi`, else `Error: Invalid NAME value (V).` or the given message. */
function intIn(lo: number, hi: number, message?: string): Parse<number> {
  return (t, name) => {
    const v = parseInt32(t, name);
    if (v < lo || v > hi) throw new OptionError(message ?? `Error: Invalid ${name} value (${v}).`);
    return v;
  };
}

/** The largest payload MQTT can carry (MQTT-2.2.3: remaining length <= 268435455). */
const MAX_MQTT_PAYLOAD = 268435455;

export const OPTION_TABLE = {
  allowAnonymous: {
    name: 'allow_anonymous',
    type: 'boolean',
    // mosquitto.conf(5): false, except in local-only mode (no listener configured), where
    // it is true; config/finalize.ts decides that for a parsed file. An embedding program
    // that does not say gets true, as local-only mode does.
    default: true,
    reload: true,
    scope: 'security',
  },
  allowZeroLengthClientid: {
    name: 'allow_zero_length_clientid',
    type: 'boolean',
    default: true,
    reload: true,
    scope: 'security',
  },
  autoIdPrefix: { name: 'auto_id_prefix', type: 'string', default: 'auto-', reload: true, scope: 'security' },
  /**
   * mosquitto.conf(5) of 2.0.11 says the default is true, but Mosquitto 2.0.11 checks the
   * source only when the option is set to true: what it does is the default here.
   */
  checkRetainSource: { name: 'check_retain_source', type: 'boolean', default: false, reload: false },
  /**
   * Seconds a new connection may take to send CONNECT: 90, as Mosquitto 2.0.11 (its
   * default keep alive of 60 s, times 1.5, counted from the accept).
   */
  connectTimeout: { name: null, type: 'number', default: 90, reload: false },
  maxInflightBytes: {
    name: 'max_inflight_bytes',
    type: 'number',
    default: 0,
    reload: true,
    parse: (t, name) => Math.max(0, atol(requireWord(t, name))),
  },
  maxInflightMessages: {
    name: 'max_inflight_messages',
    type: 'number',
    default: 20,
    reload: true,
    parse: (t, name) => {
      const v = parseInt32(t, name);
      if (v > 65535) throw new OptionError('Error: max_inflight_messages must be <= 65535.');
      // Mosquitto takes a negative value as 0: no maximum.
      return Math.max(0, v);
    },
  },
  maxKeepalive: {
    name: 'max_keepalive',
    type: 'number',
    default: 65535,
    reload: true,
    parse: intIn(10, 65535),
  },
  /** 0 means no limit. */
  maxPacketSize: {
    name: 'max_packet_size',
    type: 'number',
    default: 0,
    reload: true,
    // Below 20 bytes a client could not even subscribe (mosquitto.conf(5)).
    parse: intIn(20, 0x7fffffff),
  },
  maxQueuedBytes: {
    name: 'max_queued_bytes',
    type: 'number',
    default: 0,
    reload: true,
    parse: (t, name) => Math.max(0, atol(requireWord(t, name))),
  },
  maxQueuedMessages: {
    name: 'max_queued_messages',
    type: 'number',
    default: 1000,
    reload: true,
    parse: (t, name) => Math.max(0, parseInt32(t, name)),
  },
  /** Hard cap on bytes waiting to be written to one socket before QoS 0 is dropped. */
  maxSocketBacklog: { name: null, type: 'number', default: 16 * 1024 * 1024, reload: false },
  /** The broker-wide Topic Alias Maximum; each listener has its own max_topic_alias. */
  maxTopicAlias: { name: null, type: 'number', default: 10, reload: false },
  /** memory_limit: bytes of heap above which incoming messages are refused; 0 no limit. */
  memoryLimit: {
    name: 'memory_limit',
    type: 'number',
    default: 0,
    reload: true,
    parse: (t, name) => {
      const v = atol(requireWord(t, name));
      if (v < 0) throw new OptionError(`Error: Invalid memory_limit value (${v}).`);
      return v;
    },
  },
  /** 0 means no limit. */
  messageSizeLimit: {
    name: 'message_size_limit',
    type: 'number',
    default: 0,
    reload: true,
    parse: (t, name, ctx) => {
      ctx.note('Note: It is recommended to replace `message_size_limit` with `max_packet_size`.');
      const v = toUint32(parseInt32(t, name));
      if (v > MAX_MQTT_PAYLOAD) throw new OptionError(`Error: Invalid message_size_limit value (${v}).`);
      return v;
    },
  },
  /** Seconds after which a disconnected persistent session is removed; 0 never. */
  persistentClientExpiration: {
    name: 'persistent_client_expiration',
    type: 'number',
    default: 0,
    reload: true,
    parse: (t, name, ctx) => {
      const w = t.next();
      // Mosquitto prints this error but carries on with the option unset.
      if (w === null) return void ctx.emptyNonFatal(name);
      const secs = parseDuration(w);
      if (secs === null) throw new OptionError('Error: Invalid persistent_client_expiration duration in configuration.');
      return secs;
    },
  },
  queueQos0Messages: { name: 'queue_qos0_messages', type: 'boolean', default: false, reload: true },
  /**
   * reason_strings (a ts-mosquitto extension): MQTT 5 Reason Strings on refusals and error
   * acknowledgements. Off by default because Mosquitto 2.0 sends none, and its bytes are
   * the specification (its test suite expects e.g. `20 03 00 87 00` for a refused CONNECT).
   */
  reasonStrings: { name: 'reason_strings', type: 'boolean', default: false, reload: true },
  /**
   * response_topic_prefix (a ts-mosquitto extension): MQTT 5 Response Information is
   * PREFIX/CLIENTID (escaped), sent to clients that request it (handlers/connect.ts).
   */
  responseTopicPrefix: {
    name: 'response_topic_prefix',
    type: 'string',
    default: 'response',
    reload: false,
    parse: (t, name, ctx) => {
      const v = parseString(t, name, ctx.isSet(name));
      ctx.markSet(name);
      // A wildcard would widen what it names.
      if (v.includes('+') || v.includes('#') || v.endsWith('/')) {
        throw new OptionError('Error: Invalid response_topic_prefix value in configuration.');
      }
      return v;
    },
  },
  retainAvailable: { name: 'retain_available', type: 'boolean', default: true, reload: true },
  setTcpNodelay: { name: 'set_tcp_nodelay', type: 'boolean', default: false, reload: true },
  /** Seconds; 0 disables $SYS. */
  sysInterval: {
    name: 'sys_interval',
    type: 'number',
    default: 10,
    reload: true,
    parse: intIn(0, 65535),
  },
  upgradeOutgoingQos: { name: 'upgrade_outgoing_qos', type: 'boolean', default: false, reload: true },
  /** websockets_headers_size: largest HTTP upgrade request header, 0 for Node's default. */
  websocketsHeadersSize: {
    name: 'websockets_headers_size',
    type: 'number',
    default: 0,
    reload: false,
    parse: intIn(0, 65535, 'Error: Websockets headers size must be between 0 and 65535 inclusive.'),
  },
  /** websockets_log_level: which WebSocket/HTTP events reach log_type websockets (1 error, 4 notice, 8 info). */
  websocketsLogLevel: { name: 'websockets_log_level', type: 'number', default: 0, reload: true, scope: 'log' },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof OPTION_TABLE;
export type OptionKey = keyof Table;
type ValueOf<S> = S extends { type: 'boolean' } ? boolean : S extends { type: 'number' } ? number : string;

/** Every option of the table with its value: the option part of BrokerOptions. */
export type TableOptions = { -readonly [K in OptionKey]: ValueOf<Table[K]> };

/** The options a parsed mosquitto.conf keeps at the top level of BrokerConfig. */
export type TopLevelConfigOptions = {
  -readonly [K in OptionKey as Table[K] extends { scope: string } | { name: null } ? never : K]: ValueOf<Table[K]>;
};

export const OPTION_KEYS = Object.keys(OPTION_TABLE) as readonly OptionKey[];

/** The table's defaults, a fresh object each call. */
export function optionDefaults(): TableOptions {
  const o: Record<string, unknown> = {};
  for (const k of OPTION_KEYS) o[k] = OPTION_TABLE[k].default;
  return o as TableOptions;
}

/** Whether a parsed mosquitto.conf keeps the option at the top level of BrokerConfig. */
export function isTopLevelConfigOption(key: OptionKey): boolean {
  const spec: OptionSpec = OPTION_TABLE[key];
  return spec.name !== null && spec.scope === undefined;
}

/** The defaults of the options BrokerConfig keeps at its top level. */
export function topLevelConfigDefaults(): TopLevelConfigOptions {
  const o: Record<string, unknown> = {};
  for (const k of OPTION_KEYS) if (isTopLevelConfigOption(k)) o[k] = OPTION_TABLE[k].default;
  return o as TopLevelConfigOptions;
}

/** The options a SIGHUP replaces. */
export const RELOADED_OPTIONS: readonly OptionKey[] = OPTION_KEYS.filter((k) => OPTION_TABLE[k].reload);

/** The value of an option that `parse` does not customise: the plain reading of its type. */
export function parseOptionValue(spec: OptionSpec, t: LineTokens, name: string, ctx: OptionContext): unknown {
  if (spec.parse !== undefined) return spec.parse(t, name, ctx);
  if (spec.type === 'boolean') return parseBool(t, name);
  if (spec.type === 'number') return parseInt32(t, name);
  // A string option stored once globally: a second one is `Duplicate NAME value`.
  const v = parseString(t, name, ctx.isSet(name));
  ctx.markSet(name);
  return v;
}
