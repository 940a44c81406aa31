/**
 * /metrics after real traffic: MQTT.js clients (3.1.1 and 5.0) publish at each QoS through
 * an in-process broker with the observe plugin, and the scraped Prometheus text must
 * count exactly that traffic, by QoS, listener and protocol version.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { get, sample, startObserved, stopObserved } from './helpers/observe.js';
import type { Authorizer } from '../src/index.js';

const clients: MqttClient[] = [];

function connect(port: number, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, ...opts });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await stopObserved();
});

describe('metrics listener', () => {
  it('counts messages, bytes, connections, retained messages and subscriptions from real traffic', async () => {
    // An ACL that keeps "secret/#" from every subscriber: those copies count as dropped (acl).
    const authorizer: Authorizer = {
      canWrite: () => true,
      canRead: (_c, _u, topic) => !topic.startsWith('secret/'),
      canSubscribe: () => true,
    };
    const o = await startObserved({ authorizer });
    const sub = await connect(o.mqttPort, { clientId: 'sub', protocolVersion: 5 });
    let received = 0;
    sub.on('message', () => received++);
    await sub.subscribeAsync(['a/#', 'secret/#'], { qos: 2 });
    const pub = await connect(o.mqttPort, { clientId: 'pub', protocolVersion: 4 });
    for (let i = 0; i < 5; i++) await pub.publishAsync('a/zero', 'x'.repeat(10), { qos: 0 });
    for (let i = 0; i < 3; i++) await pub.publishAsync('a/one', 'y'.repeat(20), { qos: 1 });
    for (let i = 0; i < 2; i++) await pub.publishAsync('a/two', 'z'.repeat(30), { qos: 2 });
    await pub.publishAsync('a/kept', 'retained!', { qos: 1, retain: true });
    await pub.publishAsync('secret/x', 'hidden', { qos: 1 });
    await expect.poll(() => received, { timeout: 3000 }).toBe(11);

    const res = await get(o.httpPort, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.body;
    expect(m).toContain('# TYPE tsmosquitto_publish_received_total counter');
    expect(sample(m, 'tsmosquitto_publish_received_total', { qos: '0' })).toBe(5);
    expect(sample(m, 'tsmosquitto_publish_received_total', { qos: '1' })).toBe(5);
    expect(sample(m, 'tsmosquitto_publish_received_total', { qos: '2' })).toBe(2);
    expect(sample(m, 'tsmosquitto_publish_received_bytes_total', { qos: '0' })).toBe(50);
    expect(sample(m, 'tsmosquitto_publish_received_bytes_total', { qos: '2' })).toBe(60);
    // The subscriber gets each at the QoS it was published with (subscribed at 2).
    expect(sample(m, 'tsmosquitto_publish_sent_total', { qos: '0' })).toBe(5);
    expect(sample(m, 'tsmosquitto_publish_sent_total', { qos: '1' })).toBe(4);
    expect(sample(m, 'tsmosquitto_publish_sent_total', { qos: '2' })).toBe(2);
    expect(sample(m, 'tsmosquitto_publish_sent_bytes_total', { qos: '1' })).toBe(69);
    expect(sample(m, 'tsmosquitto_publish_dropped_total', { reason: 'acl' })).toBe(1);
    expect(sample(m, 'tsmosquitto_publish_dropped_total', { reason: 'queue_full' })).toBe(0);
    const port = String(o.mqttPort);
    expect(sample(m, 'tsmosquitto_connections', { listener: port, version: '5.0' })).toBe(1);
    expect(sample(m, 'tsmosquitto_connections', { listener: port, version: '3.1.1' })).toBe(1);
    expect(sample(m, 'tsmosquitto_connections_total', { listener: port, version: '3.1.1' })).toBe(1);
    expect(sample(m, 'tsmosquitto_auth_successes_total')).toBe(2);
    expect(sample(m, 'tsmosquitto_retained_messages')).toBe(1);
    expect(sample(m, 'tsmosquitto_retained_bytes')).toBe(9);
    expect(sample(m, 'tsmosquitto_subscriptions')).toBe(2);
    expect(sample(m, 'tsmosquitto_sessions', { state: 'active' })).toBe(2);
    expect(sample(m, 'tsmosquitto_queued_messages')).toBe(0);
    // The last PUBCOMP from the subscriber may still be on its way.
    await expect.poll(async () => sample((await get(o.httpPort, '/metrics')).body, 'tsmosquitto_inflight_messages')).toBe(0);
    // Sampled (latency.ts; observe-latency.test.ts): at least the first message was timed.
    expect(sample(m, 'tsmosquitto_publish_delivery_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'tsmosquitto_publish_delivery_seconds_bucket', { le: '+Inf' })).toBe(
      sample(m, 'tsmosquitto_publish_delivery_seconds_count'),
    );
    // Runtime families from prom-client: CPU, memory, event-loop lag; GC pauses as a histogram.
    expect(sample(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(m, 'process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(m).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(m).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    // Every name follows the conventions: counters end in _total, nothing in milliseconds.
    for (const line of m.split('\n')) {
      const t = /^# TYPE (tsmosquitto_\S+) (\w+)$/.exec(line);
      if (t === null) continue;
      if (t[2] === 'counter') expect(t[1]).toMatch(/_total$/);
      expect(t[1]).not.toMatch(/_ms$|millis/);
    }
  });

  it('counts refused connections by reason and disconnections', async () => {
    const o = await startObserved({ allowAnonymous: false, authenticator: { authenticate: (c) => c.password?.toString() === 'right' } });
    await expect(connect(o.mqttPort, { username: 'u', password: 'wrong' })).rejects.toThrow();
    await expect(connect(o.mqttPort, {})).rejects.toThrow();
    const ok = await connect(o.mqttPort, { username: 'u', password: 'right', clientId: 'ok' });
    // The http listener is guarded by the same authenticator.
    const scrape = async (): Promise<string> => (await get(o.httpPort, '/metrics', { user: 'u', password: 'right' })).body;
    let m = await scrape();
    expect(sample(m, 'tsmosquitto_auth_failures_total', { reason: 'password' })).toBe(1);
    expect(sample(m, 'tsmosquitto_auth_failures_total', { reason: 'anonymous' })).toBe(1);
    expect(sample(m, 'tsmosquitto_connect_refused_total', { reason: 'not_authorized' })).toBe(2);
    expect(sample(m, 'tsmosquitto_auth_successes_total')).toBe(1);
    await ok.endAsync();
    await expect.poll(async () => sample(await scrape(), 'tsmosquitto_sessions', { state: 'active' })).toBe(0);
    m = await scrape();
    expect(sample(m, 'tsmosquitto_connections_total', { listener: String(o.mqttPort), version: '3.1.1' })).toBe(1);
    expect(sample(m, 'tsmosquitto_connections', { listener: String(o.mqttPort), version: '3.1.1' })).toBeUndefined();
  });

  it('counts connected clients as they come, are taken over and leave', async () => {
    const o = await startObserved();
    const port = String(o.mqttPort);
    const connected = async (version: string) => sample((await get(o.httpPort, '/metrics')).body, 'tsmosquitto_connections', { listener: port, version });
    const a = await connect(o.mqttPort, { clientId: 'same', protocolVersion: 4 });
    const b = await connect(o.mqttPort, { clientId: 'other', protocolVersion: 4 });
    expect(await connected('3.1.1')).toBe(2);
    // A second connection with the same client id takes the session over: still two.
    let closed = false;
    a.once('close', () => (closed = true));
    const a2 = await connect(o.mqttPort, { clientId: 'same', protocolVersion: 4, clean: false });
    await expect.poll(() => closed).toBe(true);
    expect(await connected('3.1.1')).toBe(2);
    const five = await connect(o.mqttPort, { clientId: 'five', protocolVersion: 5 });
    expect(await connected('5.0')).toBe(1);
    await b.endAsync();
    await expect.poll(() => connected('3.1.1')).toBe(1);
    await a2.endAsync();
    await five.endAsync();
    await expect.poll(() => connected('3.1.1')).toBeUndefined();
    expect(await connected('5.0')).toBeUndefined();
    const m = (await get(o.httpPort, '/metrics')).body;
    expect(sample(m, 'tsmosquitto_connections_total', { listener: port, version: '3.1.1' })).toBe(3);
    expect(sample(m, 'tsmosquitto_connections_total', { listener: port, version: '5.0' })).toBe(1);
  });

  it('reports the Redis link and the persistence journal it is given', async () => {
    let up = true;
    const o = await startObserved({}, undefined, {
      redis: { stats: { connected: () => up, dropped: () => 3, errors: () => 1, replaying: () => 0, pending: () => 7 } },
      persistence: { journalCounters: () => ({ writes: 4, bytes: 400, syncs: 2, syncSeconds: 0.25 }) },
    });
    let m = (await get(o.httpPort, '/metrics')).body;
    expect(sample(m, 'tsmosquitto_redis_up')).toBe(1);
    expect(sample(m, 'tsmosquitto_redis_pending_writes')).toBe(7);
    expect(sample(m, 'tsmosquitto_redis_dropped_writes_total')).toBe(3);
    expect(sample(m, 'tsmosquitto_persistence_journal_writes_total')).toBe(4);
    expect(sample(m, 'tsmosquitto_persistence_fsync_seconds_total')).toBe(0.25);
    up = false;
    m = (await get(o.httpPort, '/metrics')).body;
    expect(sample(m, 'tsmosquitto_redis_up')).toBe(0);
  });

  it('reports each bridge by the state it announces on $SYS', async () => {
    const o = await startObserved();
    // What a bridge publishes locally as it connects and loses its remote (bridge.ts notifyLocal).
    o.broker.publishInternal('$SYS/broker/connection/host.cloud/state', '1', 1, true);
    o.broker.publishInternal('$SYS/broker/connection/host.backup/state', '0', 1, true);
    let m = (await get(o.httpPort, '/metrics')).body;
    expect(sample(m, 'tsmosquitto_bridge_up', { connection: 'host.cloud' })).toBe(1);
    expect(sample(m, 'tsmosquitto_bridge_up', { connection: 'host.backup' })).toBe(0);
    o.broker.publishInternal('$SYS/broker/connection/host.cloud/state', '0', 1, true);
    m = (await get(o.httpPort, '/metrics')).body;
    expect(sample(m, 'tsmosquitto_bridge_up', { connection: 'host.cloud' })).toBe(0);
  });
});
