// The messages exchanged over IPC between the benchmark runner and its load generator.
// The runner owns the broker's pid and samples /proc when the generator marks a phase,
// so the generator never needs to know which broker it drives.

export type Qos = 0 | 1 | 2;

/** Who publishes where and who subscribes to what. */
export type Topology =
  | { kind: 'pairs'; pairs: number } // pair i: publisher i -> bench/p/i -> subscriber i
  | { kind: 'fanout'; subscribers: number } // 1 publisher -> bench/fan -> N subscribers
  | { kind: 'fanin'; publishers: number } // N publishers -> bench/in/i -> 1 subscriber on bench/in/+
  | { kind: 'routing'; subscribers: number; filtersPerSubscriber: number; topics: number };

export interface FlowSpec {
  kind: 'flow';
  port: number;
  qos: Qos;
  payload: number; // bytes, at least 16 (timestamp and publisher index)
  topology: Topology;
  /** Closed loop: messages in flight end to end, per publisher. */
  window: number;
  /** Open loop instead of closed: total messages per second. */
  rate?: number;
  /** Subscribers connect with clean session off (persistent sessions). */
  persistentSubscribers?: boolean;
  /** Subscribers connect here instead of `port` (issue 15: another node of a cluster). */
  subscriberPort?: number;
  warmupMs: number;
  measureMs: number;
}

export interface IdleSpec {
  kind: 'idle';
  port: number;
  connections: number;
  concurrency: number;
  settleMs: number;
}

export interface RetainedSpec {
  kind: 'retained';
  port: number;
  messages: number;
  payload: number;
}

export interface AuthSpec {
  kind: 'auth';
  port: number;
  users: { username: string; password: string }[];
  /** Each connect takes the next user, and the run ends when all have connected once. */
  distinct: boolean;
  concurrency: number;
  measureMs: number;
}

/**
 * Issue 17: a fleet of mostly idle devices. `connections` held by holder processes (each
 * under its own raised open-file limit, at most `perHolder` sockets), each from its own
 * 127.0.0.0/8 source address, keep alive `keepalive`.
 * - idle: held for `holdMs`; a third of it with nothing else going on (broker CPU while
 *   idle), then a QoS 0 flow of `flowRate` msg/s between two other clients (its p99);
 *   each connection sends one PINGREQ, spread over the hold.
 * - wake: a `#` subscriber (QoS 1), then each connection publishes one QoS 1 message,
 *   spread over `wakeMs`; the rate is deliveries to the subscriber per second.
 */
export interface FleetSpec {
  kind: 'fleet';
  mode: 'idle' | 'wake';
  port: number;
  connections: number;
  keepalive: number;
  concurrency: number;
  perHolder: number;
  /** Open-file limit for each holder process (ulimit -n in its shell). */
  holderFdLimit: number;
  holdMs: number;
  flowRate: number;
  wakeMs: number;
}

export type GenSpec = FlowSpec | IdleSpec | RetainedSpec | AuthSpec | FleetSpec;

/** Fleet process -> holder process. */
export type HolderCommand =
  | { op: 'connect'; port: number; from: number; to: number; prefix: string; keepalive: number; concurrency: number }
  | { op: 'ping'; spreadMs: number }
  | { op: 'wake'; spreadMs: number; from: number; topicPrefix: string; payload: number }
  | { op: 'count' }
  | { op: 'close' };

/** Holder process -> fleet process. */
export type HolderReply =
  | { op: 'connected'; accepted: number; refused: number; closed: number; latencies: number[]; earlyPings: number }
  | { op: 'pinged'; sent: number }
  | { op: 'woke'; sent: number }
  | { op: 'count'; alive: number; pingresps: number; pubacks: number; closed: number }
  | { op: 'error'; message: string };

/** Generator -> runner: a phase boundary; the runner snapshots broker CPU and RSS. */
export interface MarkMessage {
  type: 'mark';
  /** idleEnd: the fleet's quiet part of the hold ends (broker CPU while idle is start..idleEnd). */
  name: 'start' | 'end' | 'baseline' | 'settled' | 'idleEnd';
}

export interface GenResult {
  /** The headline rate (messages, deliveries or connections per second). */
  rate: number;
  unit: string;
  p50Ms?: number;
  p99Ms?: number;
  /** Generator CPU over the measured window, percent of one core. */
  genCpu: number;
  lost?: number;
  /** Free-form measurements shown in the notes column and kept in the JSON. */
  extra: Record<string, number | string>;
}

export interface ResultMessage {
  type: 'result';
  result: GenResult;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
}

export type GenMessage = MarkMessage | ResultMessage | ErrorMessage;
