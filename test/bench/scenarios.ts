// The scenarios of issue 8, with their full and --quick sizes. Each one describes the load
// (a GenSpec for the generator), any broker configuration it needs, and its headline metric.
import type { BrokerName, BrokerOptions } from './brokers.js';
import type { FlowSpec, GenSpec, Topology } from './protocol.js';
import { redisServerPath } from './redis-server.js';
import { clusterScenarios } from './cluster-scenarios.js';

export interface Sizes {
  quick: boolean;
  warmupMs: number;
  measureMs: number;
  idleConnections: number;
  retained: number;
  routingFilters: number; // per each of 100 subscribers
  authUsers: number; // distinct bcrypt users for the uncached password scenarios (slow to hash)
  pbkdf2Users: number; // distinct sha512-pbkdf2 users
  /** idle-100k and wake-100k (issue 17): connections held, how long, the wake window. */
  fleetConnections: number;
  fleetHoldMs: number;
  fleetWakeMs: number;
}

export function sizes(quick: boolean): Sizes {
  return quick
    ? {
        quick, warmupMs: 500, measureMs: 1000, idleConnections: 2000, retained: 20000, routingFilters: 200, authUsers: 30, pbkdf2Users: 3000,
        fleetConnections: 5000, fleetHoldMs: 10000, fleetWakeMs: 10000,
      }
    : {
        quick, warmupMs: 2000, measureMs: 8000, idleConnections: 10000, retained: 100000, routingFilters: 1000, authUsers: 120, pbkdf2Users: 20000,
        fleetConnections: 100000, fleetHoldMs: 60000, fleetWakeMs: 10000,
      };
}

/** Files prepared once per run (password files), keyed by broker. */
export interface Fixtures {
  dir: string;
  /** Made only when an auth scenario runs (bcrypt at cost 10 takes a while per user). */
  bcryptFile?: string;
  pbkdf2File?: string;
  /** All users; the bcrypt file holds the first `bcryptUsers` of them. */
  users: { username: string; password: string }[];
  bcryptUsers: number;
}

/** Servers the runner started for one run of a scenario. */
export interface Services {
  redisPort?: number;
  /** The second cluster node's port (Scenario.peer). */
  peerPort?: number;
  /** The http listener's port when the scenario scrapes /metrics (issue 18). */
  metricsPort?: number;
}

export interface Scenario {
  name: string;
  title(s: Sizes): string;
  /** Lower is better for the headline metric (latency). */
  metric: 'rate' | 'p99';
  /**
   * Run every broker with TCP_NODELAY (`set_tcp_nodelay true`; Aedes: a noDelay server).
   * The default, Nagle on, coalesces Mosquitto's one-write-per-message fan-out, which helps it
   * there, but holds every acknowledgement and timed message behind a delayed TCP ACK (up to
   * 40 ms); so the scenarios with acknowledgements or timing turn it on, for all brokers.
   */
  tcpNoDelay?: boolean;
  /** The runner starts a redis-server of its own for the run and passes its port to broker(). */
  redis?: boolean;
  /**
   * The broker gets a `protocol http` listener on svc.metricsPort and the runner scrapes
   * its /metrics once a second while the scenario runs (issue 18: the cost of metrics).
   */
  scrapeMetrics?: boolean;
  /** Also run against Node's bare `net` server (broker `net`): the per-socket floor. */
  floor?: boolean;
  /** Needs one descriptor per fleet connection in the broker (the runner raises its limit). */
  fleet?: boolean;
  /** A second ts-mosquitto node the runner starts after the broker (issue 15: the cluster). */
  peer?(svc: Services): BrokerOptions;
  /** A reason the scenario does not apply to this broker, if so. */
  skip?(broker: BrokerName, f: Fixtures): string | undefined;
  broker?(broker: BrokerName, f: Fixtures, runDir: string, svc: Services): BrokerOptions;
  spec(port: number, s: Sizes, f: Fixtures, broker: BrokerName, svc: Services): GenSpec;
  /** Upper bound on the generator's run, for the runner's watchdog. */
  timeoutMs(s: Sizes): number;
}

function flow(port: number, s: Sizes, topology: Topology, over: Partial<FlowSpec> = {}): FlowSpec {
  return {
    kind: 'flow',
    port,
    qos: 0,
    payload: 64,
    topology,
    window: 1000,
    warmupMs: s.warmupMs,
    measureMs: s.measureMs,
    ...over,
  };
}

function auth(port: number, s: Sizes, users: Fixtures['users'], distinct: boolean): GenSpec {
  return { kind: 'auth', port, users, distinct, concurrency: 8, measureMs: s.quick ? 1500 : 5000 };
}

function authSkip(_b: BrokerName, f: Fixtures, file: string | undefined): string | undefined {
  return file ? undefined : f.users.length === 0 ? 'no password file made' : 'password tool missing';
}

const flowTimeout = (s: Sizes): number => s.warmupMs + s.measureMs + 60000;
const one: Topology = { kind: 'pairs', pairs: 1 };

/** Entries the redis scenario's hook keeps per list (the newest ones). */
export const REDIS_HOOK_LIST_MAX = 1000;

/**
 * Issue 7's configuration: presence (on once Redis is configured) and a publish hook that
 * pushes every message onto a per-topic list. A second hook on the same event trims that
 * list so Redis memory stays bounded; hooks of one event are written in configuration order
 * on one pipelined connection, so the list never exceeds the bound by more than one entry
 * (two commands per message, nothing merged). The bench
 * topics (bench/p/N) match none of the default redis_store rules (queue/#, pubsub/#), so
 * no message is stored for away clients and `redis_store none` is not needed.
 */
function redisConf(port: number): string[] {
  return [
    `redis_port ${port}`,
    'redis_hook message.publish RPUSH bench:${topic} ${payload}',
    `redis_hook message.publish LTRIM bench:\${topic} -${REDIS_HOOK_LIST_MAX} -1`,
  ];
}

/** Sockets per holder process of the fleet: under any hard open-file limit of 16,384 or more. */
export const FLEET_PER_HOLDER = 15000;

function fleet(port: number, s: Sizes, mode: 'idle' | 'wake'): GenSpec {
  return {
    kind: 'fleet',
    mode,
    port,
    connections: s.fleetConnections,
    keepalive: 60,
    concurrency: 100,
    perHolder: FLEET_PER_HOLDER,
    holderFdLimit: FLEET_PER_HOLDER + 256,
    holdMs: s.fleetHoldMs,
    flowRate: 1000,
    wakeMs: s.fleetWakeMs,
  };
}

/** Connecting at a few thousand a second, the hold or the wake, and margin. */
const fleetTimeout = (s: Sizes): number => s.fleetConnections * 2 + s.fleetHoldMs + s.fleetWakeMs + 180000;

export const SCENARIOS: Scenario[] = [
  {
    name: 'qos0',
    title: () => 'QoS 0, 1:1',
    metric: 'rate',
    spec: (port, s) => flow(port, s, one),
    timeoutMs: flowTimeout,
  },
  {
    name: 'qos1',
    tcpNoDelay: true,
    title: () => 'QoS 1, 1:1',
    metric: 'rate',
    spec: (port, s) => flow(port, s, one, { qos: 1 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'qos2',
    tcpNoDelay: true,
    title: () => 'QoS 2, 1:1 (20 in flight)',
    metric: 'rate',
    // 20 in flight: Mosquitto 2.0.11 stops forwarding queued QoS 2 messages to a subscriber
    // once more than its max_inflight_messages (20) are outstanding.
    spec: (port, s) => flow(port, s, one, { qos: 2, window: 20 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'fanout',
    title: () => 'QoS 0, fan-out 1:100 (deliveries)',
    metric: 'rate',
    spec: (port, s) => flow(port, s, { kind: 'fanout', subscribers: 100 }, { window: 100 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'pairs',
    title: () => 'QoS 0, 50 pairs',
    metric: 'rate',
    spec: (port, s) => flow(port, s, { kind: 'pairs', pairs: 50 }, { window: 100 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'fanin',
    title: () => 'QoS 0, fan-in 100:1',
    metric: 'rate',
    spec: (port, s) => flow(port, s, { kind: 'fanin', publishers: 100 }, { window: 20 }),
    timeoutMs: flowTimeout,
  },
  {
    name: '4kb',
    title: () => 'QoS 0, 1:1, 4 KB payload',
    metric: 'rate',
    spec: (port, s) => flow(port, s, one, { payload: 4096, window: 200 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'latency',
    tcpNoDelay: true,
    title: () => 'QoS 0, 1:1 at 5,000 msg/s (latency)',
    metric: 'p99',
    spec: (port, s) =>
      flow(port, s, one, { rate: 5000, warmupMs: 500, measureMs: s.quick ? 2000 : 10000 }),
    timeoutMs: flowTimeout,
  },
  {
    name: 'idle',
    title: (s) => `${s.idleConnections.toLocaleString('en-US')} idle connections (connect rate)`,
    metric: 'rate',
    spec: (port, s) => ({ kind: 'idle', port, connections: s.idleConnections, concurrency: 100, settleMs: 1000 }),
    timeoutMs: () => 120000,
  },
  {
    // Issue 17: a node of mostly idle devices. Rate: connects/s; p50/p99: the QoS 0 flow
    // of 1,000 msg/s between two other clients while the fleet is held.
    name: 'idle-100k',
    fleet: true,
    floor: true,
    tcpNoDelay: true,
    title: (s) =>
      `${s.fleetConnections.toLocaleString('en-US')} idle connections held ${s.fleetHoldMs / 1000} s, keepalive 60 (rate: connects/s; p50/p99: a QoS 0 flow of 1,000 msg/s meanwhile)`,
    metric: 'rate',
    spec: (port, s) => fleet(port, s, 'idle'),
    timeoutMs: fleetTimeout,
  },
  {
    name: 'wake-100k',
    fleet: true,
    tcpNoDelay: true,
    title: (s) =>
      `${s.fleetConnections.toLocaleString('en-US')} connections each publish one QoS 1 message within ${s.fleetWakeMs / 1000} s to a # subscriber (deliveries/s)`,
    metric: 'rate',
    skip: (b) => (b === 'net' ? 'not a broker' : undefined),
    // One subscriber takes the whole fleet's messages: with the default 1,000 queued a
    // burst beyond what it acknowledges in time is dropped, by Mosquitto as by us, and the
    // scenario asks for every message.
    broker: () => ({ extraConf: ['max_queued_messages 1000000'] }),
    spec: (port, s) => fleet(port, s, 'wake'),
    timeoutMs: fleetTimeout,
  },
  {
    name: 'retained',
    title: (s) => `${s.retained.toLocaleString('en-US')} retained to a # subscriber`,
    metric: 'rate',
    spec: (port, s) => ({ kind: 'retained', port, messages: s.retained, payload: 64 }),
    timeoutMs: () => 180000,
  },
  {
    name: 'routing',
    title: (s) => `QoS 0 routing, ${(100 * s.routingFilters).toLocaleString('en-US')} subscriptions`,
    metric: 'rate',
    spec: (port, s) =>
      flow(port, s, { kind: 'routing', subscribers: 100, filtersPerSubscriber: s.routingFilters, topics: 10000 }),
    timeoutMs: (s) => flowTimeout(s) + 60000,
  },
  {
    name: 'persist',
    tcpNoDelay: true,
    title: () => 'QoS 1, 1:1, persistence on',
    metric: 'rate',
    skip: (b) => (b === 'aedes' ? 'no on-disk persistence' : undefined),
    broker: (_b, _f, runDir) => ({ persistenceDir: runDir }),
    spec: (port, s) => flow(port, s, one, { qos: 1, persistentSubscribers: true }),
    timeoutMs: flowTimeout,
  },
  {
    // The like-for-like baseline of `persist` (issue 5): the same persistent subscriber and
    // QoS 1 flow, sessions kept in memory only.
    name: 'persist-off',
    tcpNoDelay: true,
    title: () => 'QoS 1, 1:1, persistent session, persistence off',
    metric: 'rate',
    spec: (port, s) => flow(port, s, one, { qos: 1, persistentSubscribers: true }),
    timeoutMs: flowTimeout,
  },
  {
    // Issue 7: `qos0` with Redis presence and a publish hook; compared with `qos0`.
    name: 'redis',
    redis: true,
    title: () => `QoS 0, 1:1, Redis presence + publish hook (RPUSH, LTRIM to ${REDIS_HOOK_LIST_MAX})`,
    metric: 'rate',
    skip: (b) =>
      b !== 'ts' ? 'no Redis integration' : redisServerPath() ? undefined : 'redis-server not installed',
    broker: (_b, _f, _runDir, svc) => ({ extraConf: redisConf(svc.redisPort!) }),
    spec: (port, s) => flow(port, s, one),
    timeoutMs: flowTimeout,
  },
  {
    name: 'auth-bcrypt',
    title: (s) =>
      `connects/s, each user once (ts, aedes: bcrypt, ${s.authUsers} users; mosquitto: its sha512-pbkdf2, ${s.pbkdf2Users.toLocaleString('en-US')})`,
    metric: 'rate',
    skip: (b, f) => authSkip(b, f, b === 'mosquitto' ? f.pbkdf2File : f.bcryptFile),
    broker: (b, f) => ({ passwordFile: b === 'mosquitto' ? f.pbkdf2File : f.bcryptFile }),
    spec: (port, s, f, b) => auth(port, s, b === 'mosquitto' ? f.users : f.users.slice(0, f.bcryptUsers), true),
    timeoutMs: () => 120000,
  },
  {
    name: 'auth-cached',
    title: () => 'connects/s, one user again and again (ts, aedes: bcrypt; mosquitto: its sha512-pbkdf2)',
    metric: 'rate',
    skip: (b, f) => authSkip(b, f, b === 'mosquitto' ? f.pbkdf2File : f.bcryptFile),
    broker: (b, f) => ({ passwordFile: b === 'mosquitto' ? f.pbkdf2File : f.bcryptFile }),
    spec: (port, s, f) => auth(port, s, f.users.slice(0, 1), false),
    timeoutMs: () => 120000,
  },
  {
    name: 'auth-pbkdf2',
    title: (s) => `connects/s, each of ${s.pbkdf2Users.toLocaleString('en-US')} users once, mosquitto_passwd file (sha512-pbkdf2)`,
    metric: 'rate',
    skip: (b, f) => (b === 'aedes' ? 'no mosquitto password files' : authSkip(b, f, f.pbkdf2File)),
    broker: (_b, f) => ({ passwordFile: f.pbkdf2File }),
    spec: (port, s, f) => auth(port, s, f.users, true),
    timeoutMs: () => 120000,
  },
];

/**
 * Issue 18: qos0, fanout and idle with the metrics listener on and scraped every second,
 * compared with the same scenarios without it (targets: within 3%). Placed before the
 * password scenarios so that each runs close in time to its baseline.
 */
const METRICS_SCENARIOS: Scenario[] = (['qos0', 'fanout', 'idle'] as const).map((base): Scenario => {
  const of = SCENARIOS.find((x) => x.name === base)!;
  return {
    ...of,
    name: `metrics-${base}`,
    title: (s) => `${of.title(s)}, metrics scraped every second`,
    scrapeMetrics: true,
    skip: (b) => (b !== 'ts' ? 'no metrics listener' : undefined),
    broker: (_b, _f, _runDir, svc) => ({ extraConf: [`listener ${svc.metricsPort} 127.0.0.1`, 'protocol http'] }),
  };
});
SCENARIOS.splice(SCENARIOS.findIndex((x) => x.name === 'auth-bcrypt'), 0, ...METRICS_SCENARIOS, ...clusterScenarios(flow, one, flowTimeout));
