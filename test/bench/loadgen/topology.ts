// Builds the connections of a flow scenario: who subscribes to what, who publishes where,
// and how many deliveries each publish must produce.
import { performance } from 'node:perf_hooks';
import type { FlowSpec, Qos } from '../protocol.js';
import { MqttConn } from './conn.js';
import { type PublishTemplate, publishTemplate } from './packets.js';

export interface Publisher {
  conn: MqttConn;
  templates: PublishTemplate[];
  next: number;
  /** Deliveries each publish produces. */
  fanout: number;
  sent: number;
  delivered: number;
  nextId: number;
  unacked: number;
}

export interface Topology {
  publishers: Publisher[];
  subscribers: MqttConn[];
  /** Setup measurements (e.g. subscriptions per second for the routing table). */
  extra: Record<string, number>;
}

const CONNECT_BATCH = 100;
const FILTERS_PER_SUBSCRIBE = 100;

async function inBatches<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch: Promise<T>[] = [];
    for (let j = i; j < Math.min(count, i + CONNECT_BATCH); j++) batch.push(make(j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

function publisher(conn: MqttConn, templates: PublishTemplate[], fanout: number): Publisher {
  return { conn, templates, next: 0, fanout, sent: 0, delivered: 0, nextId: 1, unacked: 0 };
}

async function subscriber(spec: FlowSpec, i: number, filters: string[]): Promise<MqttConn> {
  const persistent = spec.persistentSubscribers === true;
  const conn = await MqttConn.connect({ port: spec.subscriberPort ?? spec.port, clientId: `bench-s${i}`, clean: !persistent });
  for (let f = 0; f < filters.length; f += FILTERS_PER_SUBSCRIBE) {
    await conn.subscribe(filters.slice(f, f + FILTERS_PER_SUBSCRIBE), spec.qos);
  }
  return conn;
}

async function publisherConn(spec: FlowSpec, i: number): Promise<MqttConn> {
  return MqttConn.connect({ port: spec.port, clientId: `bench-p${i}` });
}

export async function buildTopology(spec: FlowSpec): Promise<Topology> {
  const t = spec.topology;
  const qos: Qos = spec.qos;
  switch (t.kind) {
    case 'pairs': {
      const subscribers = await inBatches(t.pairs, (i) => subscriber(spec, i, [`bench/p/${i}`]));
      const conns = await inBatches(t.pairs, (i) => publisherConn(spec, i));
      const publishers = conns.map((c, i) => publisher(c, [publishTemplate(`bench/p/${i}`, spec.payload, qos, i)], 1));
      return { publishers, subscribers, extra: {} };
    }
    case 'fanout': {
      const subscribers = await inBatches(t.subscribers, (i) => subscriber(spec, i, ['bench/fan']));
      const conn = await publisherConn(spec, 0);
      const publishers = [publisher(conn, [publishTemplate('bench/fan', spec.payload, qos, 0)], t.subscribers)];
      return { publishers, subscribers, extra: {} };
    }
    case 'fanin': {
      const subscribers = [await subscriber(spec, 0, ['bench/in/+'])];
      const conns = await inBatches(t.publishers, (i) => publisherConn(spec, i));
      const publishers = conns.map((c, i) => publisher(c, [publishTemplate(`bench/in/${i}`, spec.payload, qos, i)], 1));
      return { publishers, subscribers, extra: {} };
    }
    case 'routing':
      return buildRouting(spec, t);
  }
}

/**
 * Subscriber j holds exact filters rt/j/k plus wildcard filters that the matcher has to walk
 * past on every publish but that never match (rt/+/j/wM needs four levels, rt/j/wM/# a
 * non-numeric third level), so each publish is delivered exactly once.
 */
async function buildRouting(
  spec: FlowSpec,
  t: { subscribers: number; filtersPerSubscriber: number; topics: number },
): Promise<Topology> {
  const wildcards = Math.min(20, Math.floor(t.filtersPerSubscriber / 10));
  const exact = t.filtersPerSubscriber - wildcards;
  const filtersOf = (j: number): string[] => {
    const f: string[] = [];
    for (let k = 0; k < exact; k++) f.push(`rt/${j}/${k}`);
    for (let m = 0; m < wildcards; m++) f.push(m % 2 === 0 ? `rt/+/${j}/w${m}` : `rt/${j}/w${m}/#`);
    return f;
  };
  const started = performance.now();
  const subscribers = await inBatches(t.subscribers, (j) => subscriber(spec, j, filtersOf(j)));
  const setupMs = performance.now() - started;
  const conn = await publisherConn(spec, 0);
  const templates: PublishTemplate[] = [];
  for (let i = 0; i < t.topics; i++) {
    const j = i % t.subscribers;
    const k = Math.floor(i / t.subscribers) % exact;
    templates.push(publishTemplate(`rt/${j}/${k}`, spec.payload, spec.qos, 0));
  }
  const total = t.subscribers * t.filtersPerSubscriber;
  return {
    publishers: [publisher(conn, templates, 1)],
    subscribers,
    extra: { subscriptions: total, subscribePerSec: Math.round(total / (setupMs / 1000)) },
  };
}
