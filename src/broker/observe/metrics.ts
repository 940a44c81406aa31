/**
 * /metrics: the broker's state in the Prometheus text format through prom-client's
 * registry and metric types (the text written by exposition.ts). Every family reads the
 * broker's own counters (stats.ts, the sessions, the trees) when scraped (collected()), so
 * the message path only ever increments plain numbers; the one exception is the latency
 * histogram, fed a few samples a second (latency.ts).
 *
 * Names follow Prometheus conventions: tsmosquitto_ prefix, _total for counters, base
 * units (_bytes, _seconds). Process and Node.js runtime families (CPU, memory, event-loop
 * lag, GC pauses) are prom-client's defaults under their usual names (process_*, nodejs_*),
 * six of them computed more cheaply in process-metrics.ts (GC pauses sampled).
 */
import { Counter, Gauge, Histogram, Registry, type LabelValues } from 'prom-client';
import { ReasonCode } from '../../protocol/index.js';
import { VERSION } from '../version.js';
import { exposition } from './exposition.js';
import { collectProcessMetrics, perScrape } from './process-metrics.js';
import type { ObservedBroker, ObserveSources } from './view.js';

type Emit = (value: number, labels?: LabelValues<string>) => void;

/**
 * Per listener and protocol version: connections accepted since start (counted at CONNACK)
 * and clients connected now (from CONNACK until they leave or are taken over).
 */
export type ConnectionTotal = { listener: string; version: string; count: number; current: number };
export type ConnectionTotals = Map<string, ConnectionTotal>;

const QOS = ['0', '1', '2'];

/** Reason codes of CONNACK refusals, named for the metric label. */
const REFUSALS: Record<number, string> = {
  [ReasonCode.UnsupportedProtocolVersion]: 'unsupported_protocol_version',
  [ReasonCode.ClientIdentifierNotValid]: 'client_identifier_not_valid',
  [ReasonCode.BadUsernameOrPassword]: 'bad_username_or_password',
  [ReasonCode.NotAuthorized]: 'not_authorized',
  [ReasonCode.ServerUnavailable]: 'server_unavailable',
  [ReasonCode.BadAuthenticationMethod]: 'bad_authentication_method',
};

/** Bucket bounds in seconds: 10 µs to 1 s; a delivery is usually well under a millisecond. */
const LATENCY_BUCKETS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1];

export function listenerLabel(port: number | undefined, unixPath: string | undefined): string {
  return unixPath ?? String(port ?? '');
}

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly latency: Histogram;
  /** Stops the process families' sampling (the GC observer's and the event-loop delay monitor's windows). */
  readonly close: () => void;

  constructor(
    private readonly broker: ObservedBroker,
    private readonly sources: ObserveSources,
    private readonly connectionTotals: ConnectionTotals,
  ) {
    const r = this.registry;
    this.close = collectProcessMetrics(r);
    this.latency = new Histogram({
      name: 'tsmosquitto_publish_delivery_seconds',
      help: 'Sampled time from routing a PUBLISH to writing its copies to the subscribers\' sockets.',
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.defineBroker();
    this.defineMessages();
    this.defineSessions();
    this.defineIntegrations();
  }

  /**
   * A family read from the broker when scraped: a prom-client Gauge or Counter of the
   * registry whose get() returns the values `read` emits, in the order emitted: the data
   * prom-client's own get() returns after a collect() that reset the family and set each
   * value (name, help, type, values of { value, labels }, aggregator). Without the round
   * trip through the family's label map, a scrape makes no key string, map and entry per
   * value, and runs none of prom-client's setting code (which V8 compiled during a young
   * broker's first minutes of scrapes: issue 18's `idle`).
   */
  private collected(family: Gauge | Counter, read: (emit: Emit) => void): void {
    const { name, help, type, aggregator } = family as unknown as { name: string; help: string; type: string; aggregator: string };
    (family as unknown as { get(): Promise<object> }).get = async () => {
      const values: { value: number; labels: LabelValues<string> }[] = [];
      read((value, labels) => values.push({ value, labels: labels ?? {} }));
      return { name, help, type, values, aggregator };
    };
  }

  private gauge(name: string, help: string, labelNames: string[], read: (emit: Emit) => void): void {
    this.collected(new Gauge({ name, help, labelNames, registers: [this.registry] }), read);
  }

  private counter(name: string, help: string, labelNames: string[], read: (emit: Emit) => void): void {
    this.collected(new Counter({ name, help, labelNames, registers: [this.registry] }), read);
  }

  private defineBroker(): void {
    const b = this.broker;
    const s = b.stats;
    this.gauge('tsmosquitto_info', 'The Mosquitto version whose behaviour this broker follows.', ['version'], (e) =>
      e(1, { version: VERSION }),
    );
    this.gauge('tsmosquitto_start_time_seconds', 'When the broker started, seconds since the Unix epoch.', [], (e) =>
      e(b.startedAt / 1000),
    );
    // Kept by the plugin as clients connect and leave (no pass over the clients per scrape).
    this.gauge('tsmosquitto_connections', 'Connected MQTT clients by listener and protocol version.', ['listener', 'version'], (e) => {
      for (const t of this.connectionTotals.values()) if (t.current > 0) e(t.current, { listener: t.listener, version: t.version });
    });
    this.counter('tsmosquitto_connections_total', 'MQTT connections accepted (CONNACK sent) by listener and protocol version.', ['listener', 'version'], (e) => {
      for (const t of this.connectionTotals.values()) e(t.count, { listener: t.listener, version: t.version });
    });
    this.gauge('tsmosquitto_sockets', 'Open network connections, MQTT or not yet.', [], (e) => e(b.clients.size));
    this.counter('tsmosquitto_sockets_opened_total', 'Network connections accepted.', [], (e) => e(s.socketsOpened));
    this.counter('tsmosquitto_auth_successes_total', 'Clients that passed authentication (connections accepted).', [], (e) =>
      e(s.connectionsTotal),
    );
    this.counter('tsmosquitto_auth_failures_total', 'Clients refused by authentication, by what failed.', ['reason'], (e) => {
      e(s.authFailedPassword, { reason: 'password' });
      e(s.authFailedAnonymous, { reason: 'anonymous' });
      e(s.authFailedEnhanced, { reason: 'enhanced_auth' });
      e(s.authFailedCertificate, { reason: 'certificate' });
    });
    this.counter('tsmosquitto_connect_refused_total', 'CONNECT packets refused, by MQTT 5 reason.', ['reason'], (e) => {
      for (const [code, n] of Object.entries(s.connectRefused)) {
        e(n, { reason: REFUSALS[Number(code)] ?? `0x${Number(code).toString(16)}` });
      }
    });
  }

  private defineMessages(): void {
    const b = this.broker;
    const s = b.stats;
    const byQos = (values: readonly number[]) => (e: Emit) => {
      for (let q = 0; q < 3; q++) e(values[q], { qos: QOS[q] });
    };
    this.counter('tsmosquitto_publish_received_total', 'PUBLISH packets received from clients, by QoS.', ['qos'], byQos(s.publishReceivedByQos));
    this.counter('tsmosquitto_publish_sent_total', 'PUBLISH packets sent to clients, by QoS.', ['qos'], byQos(s.publishSentByQos));
    this.counter('tsmosquitto_publish_received_bytes_total', 'Payload bytes of PUBLISH packets received from clients, by QoS.', ['qos'], byQos(s.publishBytesReceivedByQos));
    this.counter('tsmosquitto_publish_sent_bytes_total', 'Payload bytes of PUBLISH packets sent to clients, by QoS.', ['qos'], byQos(s.publishBytesSentByQos));
    this.counter('tsmosquitto_packets_received_total', 'MQTT packets of every type received.', [], (e) => e(s.messagesReceived));
    this.counter('tsmosquitto_packets_sent_total', 'MQTT packets of every type sent.', [], (e) => e(s.messagesSent));
    this.counter('tsmosquitto_received_bytes_total', 'Bytes read from client connections.', [], (e) => e(s.bytesReceived));
    this.counter('tsmosquitto_sent_bytes_total', 'Bytes written to client connections.', [], (e) => e(s.bytesSent));
    this.counter('tsmosquitto_publish_dropped_total', 'Messages dropped, by reason.', ['reason'], (e) => {
      e(s.droppedQueueFull, { reason: 'queue_full' });
      e(s.droppedSocketBacklog, { reason: 'socket_backlog' });
      e(s.droppedTooLarge, { reason: 'too_large' });
      e(s.droppedMemoryLimit, { reason: 'memory_limit' });
      e(s.droppedAcl, { reason: 'acl' });
    });
    this.gauge('tsmosquitto_retained_messages', 'Retained messages held.', [], (e) => e(b.retained.count));
    this.gauge('tsmosquitto_retained_bytes', 'Payload bytes of the retained messages held.', [], (e) => e(b.retained.bytes));
    this.gauge('tsmosquitto_subscriptions', 'Subscriptions, shared ones included.', [], (e) => e(b.router.count));
    this.gauge('tsmosquitto_shared_subscriptions', 'Shared subscriptions ($share/...).', [], (e) => e(b.router.sharedCount));
  }

  private defineSessions(): void {
    const b = this.broker;
    // One pass over the sessions per scrape, read by the four families below.
    const tally = perScrape(() => {
      const t = { active: 0, disconnected: 0, persistent: 0, inflight: 0, queuedBytes: 0 };
      for (const session of b.sessions.values()) {
        if (session.client !== null) t.active++;
        else t.disconnected++;
        if (!session.clean) t.persistent++;
        t.inflight += session.inflightCount;
        t.queuedBytes += session.queue.bytes;
      }
      return t;
    });
    this.gauge('tsmosquitto_sessions', 'Sessions held, by state: active (a client is connected), disconnected (persistent, waiting).', ['state'], (e) => {
      const t = tally();
      e(t.active, { state: 'active' });
      e(t.disconnected, { state: 'disconnected' });
    });
    this.gauge('tsmosquitto_sessions_persistent', 'Sessions that outlive their connection (clean session false, or an MQTT 5 expiry).', [], (e) =>
      e(tally().persistent),
    );
    this.counter('tsmosquitto_sessions_expired_total', 'Persistent sessions removed after their expiry.', [], (e) => e(b.stats.clientsExpired));
    this.gauge('tsmosquitto_inflight_messages', 'QoS 1 and 2 messages sent and not yet acknowledged, all sessions.', [], (e) => e(tally().inflight));
    this.gauge('tsmosquitto_queued_messages', 'Messages waiting in session queues.', [], (e) => e(b.stats.storedMessages));
    this.gauge('tsmosquitto_queued_bytes', 'Payload bytes waiting in session queues.', [], (e) => e(tally().queuedBytes));
  }

  private defineIntegrations(): void {
    const b = this.broker;
    const journal = this.sources.persistence?.journalCounters;
    if (journal !== undefined) {
      const read = () => journal.call(this.sources.persistence);
      this.counter('tsmosquitto_persistence_journal_writes_total', 'Writes to the persistence journal.', [], (e) => e(read().writes));
      this.counter('tsmosquitto_persistence_journal_written_bytes_total', 'Bytes written to the persistence journal.', [], (e) => e(read().bytes));
      this.counter('tsmosquitto_persistence_fsyncs_total', 'fdatasync calls on the journal.', [], (e) => e(read().syncs));
      this.counter('tsmosquitto_persistence_fsync_seconds_total', 'Time spent in fdatasync on the journal.', [], (e) => e(read().syncSeconds));
    }
    const redis = this.sources.redis;
    if (redis !== undefined) {
      this.gauge('tsmosquitto_redis_up', '1 while the connection to Redis is up.', [], (e) => e(redis.stats.connected() ? 1 : 0));
      this.gauge('tsmosquitto_redis_pending_writes', 'Writes to Redis buffered or not yet answered: how far Redis is behind.', [], (e) =>
        e(redis.stats.pending()),
      );
      this.counter('tsmosquitto_redis_dropped_writes_total', 'Writes to Redis dropped while it was away and the buffer was full.', [], (e) =>
        e(redis.stats.dropped()),
      );
      this.counter('tsmosquitto_redis_errors_total', 'Commands Redis answered with an error.', [], (e) => e(redis.stats.errors()));
    }
    // Bridges announce their state as the retained $SYS/broker/connection/<id>/state (1/0).
    this.gauge('tsmosquitto_bridge_up', '1 while a bridge is connected to its remote broker, by its remote client id.', ['connection'], (e) => {
      for (const m of b.retained.match('$SYS/broker/connection/+/state')) {
        const id = m.topic.split('/')[3];
        e(m.payload.length === 1 && m.payload[0] === 0x31 ? 1 : 0, { connection: id });
      }
    });
  }

  metrics(): Promise<string> {
    return exposition(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
