/**
 * The configuration the three clients share (pub, sub, rr): one record filled from the
 * options file and the command line, then checked as a whole, as Mosquitto's clients do.
 */
import type { QoS } from '../protocol/index.js';
// topic.js alone: option parsing must not load the codec (lean start-up for --help and errors).
import { isValidTopicFilter, isValidTopicName } from '../protocol/topic.js';

export type ClientKind = 'pub' | 'sub' | 'rr';

/** How pub (and rr) obtain the payload. */
export type MessageMode = 'none' | 'cmdline' | 'file' | 'stdin-line' | 'stdin-file' | 'null';

export type PropertyCommand = 'connect' | 'publish' | 'subscribe' | 'unsubscribe' | 'disconnect' | 'will' | 'auth';

/** MQTT 5 properties per packet type, in mqtt-packet's shape. */
export type PropertySets = Partial<Record<PropertyCommand, Record<string, unknown>>>;

export interface TlsConfig {
  cafile?: string;
  capath?: string;
  certfile?: string;
  keyfile?: string;
  keyform?: string;
  ciphers?: string;
  version?: string;
  alpn?: string;
  engine?: string;
  engineKpassSha1?: string;
  insecure: boolean;
  useOsCerts: boolean;
}

export interface ClientConfig {
  kind: ClientKind;
  /** The program's name as users call it, e.g. "ts-mosquitto_sub". */
  program: string;
  id?: string;
  idPrefix?: string;
  protocolVersion: 3 | 4 | 5;
  keepalive: number;
  clean: boolean;
  host?: string;
  port?: number;
  unixPath?: string;
  bindAddress?: string;
  username?: string;
  password?: string;
  maxInflight: number;
  debug: boolean;
  quiet: boolean;
  noDelay: boolean;
  willTopic?: string;
  willPayload?: Buffer;
  willQos: QoS;
  willRetain: boolean;
  tls: TlsConfig;
  psk?: string;
  pskIdentity?: string;
  proxy?: string;
  /** ws:// or wss:// from -L: MQTT over WebSocket on this path. */
  websocketPath?: string;
  /** mqtts:// or wss:// from -L. */
  urlTls: boolean;
  sessionExpiry?: number;
  props: PropertySets;
  /** pub and rr */
  topic?: string;
  mode: MessageMode;
  message?: Buffer;
  file?: string;
  qos: QoS;
  retain: boolean;
  repeat: number;
  /** Seconds between repeats. */
  repeatDelay: number;
  /** sub */
  topics: string[];
  filterOut: string[];
  unsubTopics: string[];
  msgCount: number;
  timeout: number;
  verbose: boolean;
  noRetain: boolean;
  eol: boolean;
  exitAfterSub: boolean;
  format?: string;
  pretty: boolean;
  retainedOnly: boolean;
  removeRetained: boolean;
  /** Percentage of messages printed (from --random-filter, see client-args.ts). */
  randomFilter: number;
  /** rr */
  responseTopic?: string;
}

export function defaultConfig(kind: ClientKind, program: string): ClientConfig {
  return {
    kind,
    program,
    protocolVersion: kind === 'rr' ? 5 : 4,
    keepalive: 60,
    clean: true,
    maxInflight: 20,
    debug: false,
    quiet: false,
    noDelay: false,
    willQos: 0,
    willRetain: false,
    tls: { insecure: false, useOsCerts: false },
    urlTls: false,
    props: {},
    mode: 'none',
    qos: 0,
    retain: false,
    repeat: 1,
    repeatDelay: 0,
    topics: [],
    filterOut: [],
    unsubTopics: [],
    msgCount: 0,
    timeout: 0,
    verbose: false,
    noRetain: false,
    eol: true,
    exitAfterSub: false,
    pretty: false,
    retainedOnly: false,
    removeRetained: false,
    randomFilter: 100,
  };
}

/** A problem with the options: `text` is printed to stderr as is (it carries its newlines). */
export class ConfigError {
  constructor(
    readonly text: string,
    /** Follow with "Use '<program> --help' to see usage." */
    readonly hint = true,
  ) {}
}

/** TLS is in use when any trust source or a PSK is configured. */
export function usesTls(cfg: ClientConfig): boolean {
  return (
    cfg.tls.cafile !== undefined ||
    cfg.tls.capath !== undefined ||
    cfg.tls.useOsCerts ||
    cfg.psk !== undefined ||
    cfg.urlTls
  );
}

/** -t: pub and rr publish to one topic; sub collects filters. */
export function addTopic(cfg: ClientConfig, v: string): void {
  if (cfg.kind === 'sub') {
    // An empty filter passes here; the subscribe is then refused locally, as libmosquitto does.
    if (v !== '' && !isValidTopicFilter(v)) {
      throw new ConfigError(`Error: Invalid subscription topic '${v}', are all '+' and '#' wildcards correct?\n`);
    }
    cfg.topics.push(v);
    return;
  }
  // An empty topic passes here and is refused when publishing, as libmosquitto does.
  if (v !== '' && !isValidTopicName(v)) throw new ConfigError(`Error: Invalid publish topic '${v}', does it contain '+' or '#'?\n`);
  cfg.topic = v;
}
