/**
 * The options of ts-mosquitto_pub, _sub and _rr, declared once. Parsing follows Mosquitto's
 * clients: each option is taken in order, numbers are read as C's atoi reads them, and a
 * problem stops parsing with Mosquitto's own message.
 */
import type { QoS } from '../protocol/index.js';
// topic.js alone: option parsing must not load the codec (lean start-up for --help and errors).
import { isValidTopicFilter, isValidTopicName } from '../protocol/topic.js';
import { atof, atoi, strictInteger } from './c-numbers.js';
import { addTopic, ConfigError, type ClientConfig, type ClientKind } from './client-config.js';
import { parsePropertyArg } from './properties-arg.js';
import { parseUrlArg } from './url-arg.js';

type Apply = (cfg: ClientConfig, value: string) => void;

interface OptionDef {
  names: string[];
  kinds: ClientKind[];
  /** Message when the value is missing; options without it take no value. */
  missing?: string;
  apply: Apply;
}

const ALL: ClientKind[] = ['pub', 'sub', 'rr'];
const PUB: ClientKind[] = ['pub'];
const PUB_RR: ClientKind[] = ['pub', 'rr'];
const SUB: ClientKind[] = ['sub'];
const SUB_RR: ClientKind[] = ['sub', 'rr'];

const miss = (flag: string, what: string): string => `Error: ${flag} argument given but no ${what} specified.\n\n`;

function setMode(cfg: ClientConfig, mode: ClientConfig['mode']): void {
  if (cfg.mode !== 'none') throw new ConfigError('Error: Only one type of message can be sent at once.\n\n');
  cfg.mode = mode;
}

function qosOf(v: string): QoS {
  const q = atoi(v);
  if (q < 0 || q > 2) throw new ConfigError(`Error: Invalid QoS given: ${q}\n`);
  return q as QoS;
}

const VERSIONS: Record<string, 3 | 4 | 5> = { mqttv31: 3, '31': 3, mqttv311: 4, '311': 4, mqttv5: 5, '5': 5 };

/** -x: 0..4294967294 seconds, or -1 / 4294967295 / ∞ for a session that never expires. */
function sessionExpiryOf(v: string): number {
  if (v === '∞') return 0xffffffff;
  const n = strictInteger(v);
  if (n === undefined) throw new ConfigError('Error: session-expiry-interval not a number.\n\n');
  if (n === -1) return 0xffffffff;
  if (n < -1 || n > 0xffffffff) throw new ConfigError('Error: session-expiry-interval out of range.\n\n');
  return n;
}

const OPTIONS: OptionDef[] = [
  { names: ['-A'], kinds: ALL, missing: miss('-A', 'address'), apply: (c, v) => { c.bindAddress = v; } },
  { names: ['--cafile'], kinds: ALL, missing: miss('--cafile', 'file'), apply: (c, v) => { c.tls.cafile = v; } },
  { names: ['--capath'], kinds: ALL, missing: miss('--capath', 'directory'), apply: (c, v) => { c.tls.capath = v; } },
  { names: ['--cert'], kinds: ALL, missing: miss('--cert', 'file'), apply: (c, v) => { c.tls.certfile = v; } },
  { names: ['--ciphers'], kinds: ALL, missing: miss('--ciphers', 'ciphers'), apply: (c, v) => { c.tls.ciphers = v; } },
  {
    names: ['-C'], kinds: SUB, missing: miss('-C', 'count'),
    apply: (c, v) => {
      c.msgCount = atoi(v);
      if (c.msgCount < 1) throw new ConfigError(`Error: Invalid message count "${c.msgCount}".\n\n`);
    },
  },
  { names: ['-c', '--disable-clean-session'], kinds: ALL, apply: (c) => { c.clean = false; } },
  { names: ['-d', '--debug'], kinds: ALL, apply: (c) => { c.debug = true; } },
  { names: ['-e'], kinds: ['rr'], missing: miss('-e', 'response topic'), apply: (c, v) => {
    if (!isValidTopicName(v)) throw new ConfigError(`Error: Invalid response topic '${v}', does it contain '+' or '#'?\n`);
    c.responseTopic = v;
  } },
  { names: ['-E'], kinds: SUB, apply: (c) => { c.exitAfterSub = true; } },
  { names: ['-f', '--file'], kinds: PUB_RR, missing: miss('-f', 'file'), apply: (c, v) => { setMode(c, 'file'); c.file = v; } },
  { names: ['-F'], kinds: SUB_RR, missing: miss('-F', 'format'), apply: (c, v) => { c.format = v; } },
  { names: ['-h', '--host'], kinds: ALL, missing: miss('-h', 'host'), apply: (c, v) => { c.host = v; } },
  { names: ['-i', '--id'], kinds: ALL, missing: miss('-i', 'id'), apply: (c, v) => {
    if (c.idPrefix !== undefined) throw new ConfigError('Error: -i and -I argument cannot be used together.\n\n');
    c.id = v;
  } },
  { names: ['-I', '--id-prefix'], kinds: ALL, missing: miss('-I', 'id prefix'), apply: (c, v) => {
    if (c.id !== undefined) throw new ConfigError('Error: -i and -I argument cannot be used together.\n\n');
    c.idPrefix = v;
  } },
  { names: ['--insecure'], kinds: ALL, apply: (c) => { c.tls.insecure = true; } },
  { names: ['-k', '--keepalive'], kinds: ALL, missing: miss('-k', 'keepalive'), apply: (c, v) => {
    c.keepalive = atoi(v);
    if (c.keepalive < 5 || c.keepalive > 65535) {
      throw new ConfigError('Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n');
    }
  } },
  { names: ['--key'], kinds: ALL, missing: miss('--key', 'file'), apply: (c, v) => { c.tls.keyfile = v; } },
  { names: ['--keyform'], kinds: ALL, missing: miss('--keyform', 'keyform'), apply: (c, v) => { c.tls.keyform = v; } },
  { names: ['-L', '--url'], kinds: ALL, missing: miss('-L', 'URL'), apply: (c, v) => parseUrlArg(c, v) },
  { names: ['-l', '--stdin-line'], kinds: PUB, apply: (c) => setMode(c, 'stdin-line') },
  { names: ['-m', '--message'], kinds: PUB_RR, missing: miss('-m', 'message'), apply: (c, v) => {
    setMode(c, 'cmdline');
    c.message = Buffer.from(v, 'utf8');
  } },
  { names: ['-M'], kinds: ALL, missing: '', apply: (c, v) => {
    c.maxInflight = atoi(v);
    if (c.maxInflight < 1) throw new ConfigError('Error: Maximum inflight messages must be greater than 0.\n\n');
  } },
  { names: ['-n', '--null-message'], kinds: PUB_RR, apply: (c) => setMode(c, 'null') },
  { names: ['-N'], kinds: SUB_RR, apply: (c) => { c.eol = false; } },
  { names: ['--nodelay'], kinds: ALL, apply: (c) => { c.noDelay = true; } },
  { names: ['-p', '--port'], kinds: ALL, missing: miss('-p', 'port'), apply: (c, v) => {
    c.port = atoi(v);
    if (c.port < 0 || c.port > 65535) throw new ConfigError(`Error: Invalid port given: ${c.port}\n`);
  } },
  { names: ['-P', '--pw'], kinds: ALL, missing: miss('-P', 'password'), apply: (c, v) => { c.password = v; } },
  { names: ['--pretty'], kinds: SUB_RR, apply: (c) => { c.pretty = true; } },
  { names: ['--proxy'], kinds: ALL, missing: miss('--proxy', 'proxy url'), apply: (c, v) => {
    if (!v.startsWith('socks5h://')) throw new ConfigError(`Error: Unsupported proxy protocol: ${v}\n`);
    if (v === 'socks5h://') throw new ConfigError('Error: Invalid proxy.\n');
    c.proxy = v;
  } },
  { names: ['--psk'], kinds: ALL, missing: miss('--psk', 'key'), apply: (c, v) => { c.psk = v; } },
  { names: ['--psk-identity'], kinds: ALL, missing: miss('--psk-identity', 'identity'), apply: (c, v) => { c.pskIdentity = v; } },
  { names: ['-q', '--qos'], kinds: ALL, missing: miss('-q', 'QoS'), apply: (c, v) => { c.qos = qosOf(v); } },
  { names: ['--quiet'], kinds: ALL, apply: (c) => { c.quiet = true; } },
  { names: ['-r', '--retain'], kinds: PUB, apply: (c) => { c.retain = true; } },
  { names: ['-R'], kinds: SUB_RR, apply: (c) => { c.noRetain = true; } },
  { names: ['--random-filter'], kinds: SUB, missing: miss('--random-filter', 'chance'), apply: (c, v) => {
    // Mosquitto 2.0 keeps ten times the value, checks it against 1..10000 and prints a
    // message when rand() % 10000 falls below it: 100 prints one message in ten, 1000 all.
    const tenfold = 10 * atof(v);
    if (!(tenfold >= 1 && tenfold <= 10000)) {
      throw new ConfigError('Error: --random-filter chance must be between 0.1-100.0\n\n');
    }
    c.randomFilter = tenfold / 100;
  } },
  { names: ['--remove-retained'], kinds: SUB, apply: (c) => { c.removeRetained = true; } },
  { names: ['--repeat'], kinds: PUB, missing: miss('--repeat', 'count'), apply: (c, v) => {
    c.repeat = atoi(v);
    if (c.repeat < 1) throw new ConfigError('Error: --repeat argument must be >0.\n\n');
  } },
  { names: ['--repeat-delay'], kinds: PUB, missing: miss('--repeat-delay', 'time'), apply: (c, v) => {
    c.repeatDelay = atof(v);
    if (!(c.repeatDelay >= 0)) throw new ConfigError('Error: --repeat-delay argument must be >=0.0.\n\n');
  } },
  { names: ['--retained-only'], kinds: SUB, apply: (c) => { c.retainedOnly = true; } },
  { names: ['-s', '--stdin-file'], kinds: PUB_RR, apply: (c) => setMode(c, 'stdin-file') },
  { names: ['-t', '--topic'], kinds: ALL, missing: miss('-t', 'topic'), apply: (c, v) => addTopic(c, v) },
  { names: ['-T', '--filter-out'], kinds: SUB, missing: miss('-T', 'topic filter'), apply: (c, v) => {
    if (!isValidTopicFilter(v)) throw new ConfigError(`Error: Invalid filter topic '${v}', are all '+' and '#' wildcards correct?\n`);
    c.filterOut.push(v);
  } },
  { names: ['--tls-alpn'], kinds: ALL, missing: miss('--tls-alpn', 'protocol'), apply: (c, v) => { c.tls.alpn = v; } },
  { names: ['--tls-engine'], kinds: ALL, missing: miss('--tls-engine', 'engine_id'), apply: (c, v) => { c.tls.engine = v; } },
  { names: ['--tls-engine-kpass-sha1'], kinds: ALL, missing: miss('--tls-engine-kpass-sha1', 'kpass sha1'), apply: (c, v) => {
    c.tls.engineKpassSha1 = v;
  } },
  { names: ['--tls-use-os-certs'], kinds: ALL, apply: (c) => { c.tls.useOsCerts = true; } },
  { names: ['--tls-version'], kinds: ALL, missing: miss('--tls-version', 'version'), apply: (c, v) => { c.tls.version = v; } },
  { names: ['-u', '--username'], kinds: ALL, missing: miss('-u', 'username'), apply: (c, v) => { c.username = v; } },
  { names: ['--unix'], kinds: ALL, missing: miss('--unix', 'socket path'), apply: (c, v) => {
    // The path takes the host's place; a later -p turns it back into a (failing) host lookup.
    c.unixPath = v;
    c.port = undefined;
  } },
  { names: ['-U', '--unsubscribe'], kinds: SUB, missing: miss('-U', 'unsubscribe topic'), apply: (c, v) => {
    if (!isValidTopicFilter(v)) throw new ConfigError(`Error: Invalid unsubscribe topic '${v}', are all '+' and '#' wildcards correct?\n`);
    c.unsubTopics.push(v);
  } },
  { names: ['-v', '--verbose'], kinds: SUB_RR, apply: (c) => { c.verbose = true; } },
  { names: ['-V', '--protocol-version'], kinds: ALL, missing: miss('--protocol-version', 'version'), apply: (c, v) => {
    const version = VERSIONS[v];
    if (version === undefined) throw new ConfigError('Error: Invalid protocol version argument given.\n\n');
    c.protocolVersion = version;
  } },
  { names: ['-W'], kinds: SUB_RR, missing: miss('-W', 'timeout'), apply: (c, v) => {
    c.timeout = atoi(v);
    if (c.timeout < 1) throw new ConfigError(`Error: Invalid timeout "${c.timeout}".\n\n`);
  } },
  { names: ['--will-payload'], kinds: ALL, missing: miss('--will-payload', 'will payload'), apply: (c, v) => {
    c.willPayload = Buffer.from(v, 'utf8');
  } },
  { names: ['--will-qos'], kinds: ALL, missing: miss('--will-qos', 'will QoS'), apply: (c, v) => {
    const q = atoi(v);
    if (q < 0 || q > 2) throw new ConfigError(`Error: Invalid will QoS ${q}.\n\n`);
    c.willQos = q as QoS;
  } },
  { names: ['--will-retain'], kinds: ALL, apply: (c) => { c.willRetain = true; } },
  { names: ['--will-topic'], kinds: ALL, missing: miss('--will-topic', 'will topic'), apply: (c, v) => {
    if (!isValidTopicName(v)) throw new ConfigError(`Error: Invalid will topic '${v}', does it contain '+' or '#'?\n`);
    c.willTopic = v;
  } },
  { names: ['-x'], kinds: ALL, missing: miss('-x', 'session expiry interval'), apply: (c, v) => {
    c.sessionExpiry = sessionExpiryOf(v);
  } },
];

// -M has its own wording.
OPTIONS.find((o) => o.names[0] === '-M')!.missing = 'Error: -M argument given but max_inflight not specified.\n\n';

const BY_NAME = new Map<string, OptionDef>();
for (const o of OPTIONS) for (const n of o.names) BY_NAME.set(n, o);

/**
 * Apply a list of options (from argv or one line of the options file).
 * Returns 'help' when --help was given.
 */
export function applyArgs(cfg: ClientConfig, args: string[]): 'ok' | 'help' {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help') return 'help';
    if (arg === '-D' || arg === '--property') {
      i += parsePropertyArg(cfg, args, i);
      // Properties imply MQTT 5 unless a later -V says otherwise.
      cfg.protocolVersion = 5;
      continue;
    }
    const def = BY_NAME.get(arg);
    if (def === undefined || !def.kinds.includes(cfg.kind)) {
      throw new ConfigError(`Error: Unknown option '${arg}'.\n`);
    }
    if (def.missing === undefined) {
      def.apply(cfg, '');
      continue;
    }
    if (i + 1 >= args.length) throw new ConfigError(def.missing);
    def.apply(cfg, args[++i]);
  }
  return 'ok';
}
