/**
 * -D / --property: MQTT 5 properties given on the command line as
 * "command identifier value" (user-property takes a name and a value), checked against the
 * packets each property may appear in (MQTT 5.0 section 2.2.2.2).
 */
import { atoi } from './c-numbers.js';
import { ConfigError, type ClientConfig, type PropertyCommand } from './client-config.js';

type PropType = 'byte' | 'int16' | 'int32' | 'varint' | 'binary' | 'string' | 'pair';

interface PropDef {
  key: string;
  type: PropType;
  commands: string[];
}

const PROPS: Record<string, PropDef> = {
  'payload-format-indicator': { key: 'payloadFormatIndicator', type: 'byte', commands: ['publish', 'will'] },
  'message-expiry-interval': { key: 'messageExpiryInterval', type: 'int32', commands: ['publish', 'will'] },
  'content-type': { key: 'contentType', type: 'string', commands: ['publish', 'will'] },
  'response-topic': { key: 'responseTopic', type: 'string', commands: ['publish', 'will'] },
  'correlation-data': { key: 'correlationData', type: 'binary', commands: ['publish', 'will'] },
  'subscription-identifier': { key: 'subscriptionIdentifier', type: 'varint', commands: ['publish', 'subscribe'] },
  'session-expiry-interval': { key: 'sessionExpiryInterval', type: 'int32', commands: ['connect', 'connack', 'disconnect'] },
  'assigned-client-identifier': { key: 'assignedClientIdentifier', type: 'string', commands: ['connack'] },
  'server-keep-alive': { key: 'serverKeepAlive', type: 'int16', commands: ['connack'] },
  'authentication-method': { key: 'authenticationMethod', type: 'string', commands: ['connect', 'connack', 'auth'] },
  'authentication-data': { key: 'authenticationData', type: 'binary', commands: ['connect', 'connack', 'auth'] },
  'request-problem-information': { key: 'requestProblemInformation', type: 'byte', commands: ['connect'] },
  'will-delay-interval': { key: 'willDelayInterval', type: 'int32', commands: ['will'] },
  'request-response-information': { key: 'requestResponseInformation', type: 'byte', commands: ['connect'] },
  'response-information': { key: 'responseInformation', type: 'string', commands: ['connack'] },
  'server-reference': { key: 'serverReference', type: 'string', commands: ['connack', 'disconnect'] },
  'reason-string': {
    key: 'reasonString',
    type: 'string',
    commands: ['connack', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback', 'disconnect', 'auth'],
  },
  'receive-maximum': { key: 'receiveMaximum', type: 'int16', commands: ['connect', 'connack'] },
  'topic-alias-maximum': { key: 'topicAliasMaximum', type: 'int16', commands: ['connect', 'connack'] },
  'topic-alias': { key: 'topicAlias', type: 'int16', commands: ['publish'] },
  'maximum-qos': { key: 'maximumQoS', type: 'byte', commands: ['connack'] },
  'retain-available': { key: 'retainAvailable', type: 'byte', commands: ['connack'] },
  'user-property': { key: 'userProperties', type: 'pair', commands: ['*'] },
  'maximum-packet-size': { key: 'maximumPacketSize', type: 'int32', commands: ['connect', 'connack'] },
  'wildcard-subscription-available': { key: 'wildcardSubscriptionAvailable', type: 'byte', commands: ['connack'] },
  'subscription-identifier-available': { key: 'subscriptionIdentifiersAvailable', type: 'byte', commands: ['connack'] },
  'shared-subscription-available': { key: 'sharedSubscriptionAvailable', type: 'byte', commands: ['connack'] },
};

const COMMANDS = [
  'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback',
  'unsubscribe', 'unsuback', 'disconnect', 'auth', 'will',
];

const USED: readonly string[] = ['connect', 'publish', 'subscribe', 'unsubscribe', 'disconnect', 'will', 'auth'];

const LIMITS: Record<string, number> = { byte: 255, int16: 65535, int32: 4294967295, varint: 268435455 };

const NOT_ENOUGH = 'Error: --property argument given but not enough arguments specified.\n\n';

function strtol(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Parse one -D at args[i] (the flag itself); returns how many arguments it consumed after
 * the flag, or throws ConfigError.
 */
export function parsePropertyArg(cfg: ClientConfig, args: string[], i: number): number {
  if (args.length - i - 1 < 3) throw new ConfigError(NOT_ENOUGH);
  const command = args[i + 1];
  const name = args[i + 2];
  const value = args[i + 3];
  if (!COMMANDS.includes(command)) throw new ConfigError('Error: Invalid command given in --property argument.\n\n');
  const def = PROPS[name];
  if (def === undefined) throw new ConfigError('Error: Invalid property name given in --property argument.\n\n');
  if (!def.commands.includes('*') && !def.commands.includes(command)) {
    throw new ConfigError(`Error: ${name} property not allowed for ${command} in --property argument.\n\n`);
  }
  let consumed = 3;
  let parsed: unknown;
  if (def.type === 'pair') {
    if (args.length - i - 1 < 4) throw new ConfigError(NOT_ENOUGH);
    parsed = [value, args[i + 4]];
    consumed = 4;
  } else if (def.type === 'string') {
    parsed = value;
  } else if (def.type === 'binary') {
    parsed = Buffer.from(value, 'utf8');
  } else {
    const n = def.type === 'int32' ? strtol(value) : atoi(value);
    if (n < 0 || n > LIMITS[def.type]) {
      throw new ConfigError(`Error: Property value (${n}) out of range for property ${name}.\n\n`);
    }
    parsed = n;
  }
  if (!USED.includes(command)) return consumed;
  const set = (cfg.props[command as PropertyCommand] ??= {});
  if (def.type === 'pair') {
    // In the order given, repeats and all: they go on the wire so (MQTT-3.3.2-18).
    ((set.userProperties ??= []) as [string, string][]).push(parsed as [string, string]);
  } else if (def.key in set) {
    // Remember the duplicate; the whole set is rejected later, as libmosquitto does.
    (set as Record<string, unknown>)[DUPLICATE] = true;
  } else {
    set[def.key] = parsed;
  }
  return consumed;
}

const DUPLICATE = '__duplicate__';
const BOOLEAN_KEYS = ['payloadFormatIndicator', 'requestProblemInformation', 'requestResponseInformation'];

const CHECK_NAMES: Record<string, string> = {
  connect: 'CONNECT',
  publish: 'PUBLISH',
  subscribe: 'SUBSCRIBE',
  unsubscribe: 'UNSUBSCRIBE',
  disconnect: 'DISCONNECT',
  will: 'Will',
  auth: 'AUTH',
};

/** Values the packet rules forbid (MQTT 5.0 3.1.2.11, 3.3.2.3): rejected before connecting. */
export function checkProperties(cfg: ClientConfig): void {
  for (const command of USED) {
    const set = cfg.props[command as PropertyCommand];
    if (set === undefined) continue;
    let problem: string | undefined;
    if (set[DUPLICATE] === true) problem = 'Duplicate property in property list.';
    else if (
      set.topicAlias === 0 ||
      set.receiveMaximum === 0 ||
      set.maximumPacketSize === 0 ||
      set.subscriptionIdentifier === 0 ||
      (typeof set.payloadFormatIndicator === 'number' && set.payloadFormatIndicator > 1) ||
      (typeof set.requestProblemInformation === 'number' && set.requestProblemInformation > 1) ||
      (typeof set.requestResponseInformation === 'number' && set.requestResponseInformation > 1)
    ) {
      problem = 'A network protocol error occurred when communicating with the broker.';
    }
    delete set[DUPLICATE];
    if (problem !== undefined) {
      throw new ConfigError(`Error in ${CHECK_NAMES[command]} properties: ${problem}\n`);
    }
    // The codec carries these one-byte flags as booleans.
    for (const key of BOOLEAN_KEYS) if (typeof set[key] === 'number') set[key] = set[key] === 1;
  }
}
