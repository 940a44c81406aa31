/**
 * Mosquitto 2.0's defaults (mosquitto.conf(5)), and ours for the Redis options (issue 7).
 * The broker options' defaults are in the option table (../option-table.ts).
 */
import { OPTION_TABLE, topLevelConfigDefaults } from '../option-table.js';
import type {
  BridgeConfig,
  BrokerConfig,
  ListenerConfig,
  LogType,
  RedisConfig,
  RedisStoreRule,
  SecurityOptions,
} from './types.js';

/** The MQTT port Mosquitto's default listener uses. */
export const DEFAULT_PORT = 1883;

/** Log types on when no log_type line is given. */
export const DEFAULT_LOG_TYPES: readonly LogType[] = ['error', 'warning', 'notice', 'information'];

/** Every log type: log_type all, and -v on the command line. */
export const ALL_LOG_TYPES: readonly LogType[] = [
  'debug',
  'error',
  'warning',
  'notice',
  'information',
  'subscribe',
  'unsubscribe',
  'websockets',
];

/** Offline-message rules when no redis_store line is given (issue 7). */
export const DEFAULT_REDIS_STORE: readonly RedisStoreRule[] = [
  { filter: 'queue/#', mode: 'queue' },
  { filter: 'pubsub/#', mode: 'pubsub' },
];

export function createSecurityOptions(): SecurityOptions {
  return {
    passwordFile: null,
    aclFile: null,
    pskFile: null,
    allowAnonymous: null,
    allowZeroLengthClientid: OPTION_TABLE.allowZeroLengthClientid.default,
    autoIdPrefix: OPTION_TABLE.autoIdPrefix.default,
  };
}

export function createListener(port: number, host: string | null, security: SecurityOptions): ListenerConfig {
  return {
    port,
    host,
    unixPath: null,
    socketDomain: null,
    bindInterface: null,
    maxConnections: -1,
    maxQos: 2,
    maxTopicAlias: 10,
    mountPoint: null,
    protocol: 'mqtt',
    useUsernameAsClientid: false,
    httpDir: null,
    cafile: null,
    capath: null,
    certfile: null,
    keyfile: null,
    ciphers: null,
    ciphersTls13: null,
    crlfile: null,
    dhparamfile: null,
    requireCertificate: false,
    tlsVersion: null,
    useIdentityAsUsername: false,
    useSubjectAsUsername: false,
    pskHint: null,
    security,
    isDefault: false,
  };
}

export function createBridge(name: string): BridgeConfig {
  return {
    name,
    addresses: [],
    roundRobin: false,
    topics: [],
    cleansession: false,
    localCleansession: null,
    remoteClientid: '',
    localClientid: '',
    remoteUsername: null,
    remotePassword: null,
    localUsername: null,
    localPassword: null,
    notifications: true,
    notificationsLocalOnly: false,
    notificationTopic: '',
    keepaliveInterval: 60,
    idleTimeout: 60,
    restartTimeout: { base: 5, cap: 30 },
    startType: 'automatic',
    threshold: 10,
    tryPrivate: true,
    protocolVersion: 'mqttv311',
    attemptUnsubscribe: true,
    outgoingRetain: true,
    maxPacketSize: 0,
    bindAddress: null,
    cafile: null,
    capath: null,
    certfile: null,
    keyfile: null,
    alpn: null,
    insecure: false,
    requireOcsp: false,
    tlsVersion: null,
    identity: null,
    psk: null,
  };
}

export function createRedisConfig(): RedisConfig {
  return {
    enabled: false,
    host: '127.0.0.1',
    port: 6379,
    url: null,
    clusterNodes: null,
    addressSet: false,
    password: null,
    db: 0,
    pools: {},
    nodeName: null,
    presenceKey: 'mqtt',
    eventChannel: 'mqtt_channel',
    retain: true,
    store: DEFAULT_REDIS_STORE.map((r) => ({ ...r })),
    messageExpiry: 3600,
    hooks: [],
  };
}

/** The configuration Mosquitto runs on before any line of a config file is read. */
export function createDefaultConfig(): BrokerConfig {
  return {
    ...topLevelConfigDefaults(),
    configFile: null,
    listeners: [],
    localOnly: false,
    perListenerSettings: false,
    security: createSecurityOptions(),
    allowDuplicateMessages: true,
    autosaveInterval: 1800,
    autosaveOnChanges: false,
    clientidPrefixes: null,
    log: {
      dest: ['stderr'],
      file: null,
      types: [...DEFAULT_LOG_TYPES],
      timestamp: true,
      timestampFormat: null,
      facility: null,
      connectionMessages: true,
      websocketsLogLevel: OPTION_TABLE.websocketsLogLevel.default,
    },
    persistence: false,
    persistenceFile: 'mosquitto.db',
    persistenceLocation: null,
    pidFile: null,
    user: 'mosquitto',
    userSet: false,
    bridges: [],
    redis: createRedisConfig(),
    cluster: { enabled: false, nodeName: null, lease: 10, maxHeld: 200_000 },
    daemon: false,
    verbose: false,
  };
}
