/**
 * The dashboard's JSON: an overview of counters, the connected clients, and one level of
 * the retained-message tree at a time. Built on request, bounded by `limit`; usernames are
 * shown, passwords never (the broker does not keep them).
 */
import { protocolName, type ObservedBroker } from './view.js';
import { listenerLabel } from './metrics.js';

export interface LatencyTotals {
  count: number;
  sum: number;
}

export function overview(b: ObservedBroker, latency: LatencyTotals): object {
  const s = b.stats;
  let inflight = 0;
  for (const session of b.sessions.values()) inflight += session.inflightCount;
  return {
    now: Date.now(),
    uptime: Math.floor((Date.now() - b.startedAt) / 1000),
    connections: s.clientsConnected,
    sessions: b.sessions.size,
    subscriptions: b.router.count,
    retained: b.retained.count,
    retainedBytes: b.retained.bytes,
    queued: s.storedMessages,
    inflight,
    publishReceived: s.publishReceived,
    publishSent: s.publishSent,
    publishDropped: s.publishDropped,
    bytesReceived: s.bytesReceived,
    bytesSent: s.bytesSent,
    latencyCount: latency.count,
    latencySum: latency.sum,
    websockets: websocketListeners(b),
  };
}

/**
 * The broker's websockets listeners, for the dashboard's live tail: it connects to the one
 * it was served from, else the first of these (README, "Dashboard").
 */
function websocketListeners(b: ObservedBroker): object[] {
  const out: object[] = [];
  for (const rt of b.listeners) {
    const s = rt.settings;
    if ((s.protocol ?? s.config?.protocol) !== 'websockets' || rt.listener === undefined) continue;
    const tls = s.config !== undefined && s.config.certfile !== null && s.config.keyfile !== null;
    out.push({ port: rt.listener.port, tls, mountPoint: s.mountPoint ?? null });
  }
  return out;
}

export function clients(b: ObservedBroker, limit: number): object {
  const list: object[] = [];
  let total = 0;
  for (const c of b.clients) {
    if (!c.active) continue;
    total++;
    if (list.length >= limit) continue;
    const session = c.session;
    list.push({
      id: c.clientId,
      address: c.conn.remoteAddress ?? null,
      port: c.conn.remotePort ?? null,
      listener: listenerLabel(c.listener.listener?.port ?? c.listener.settings.port, c.listener.settings.unixPath),
      protocol: protocolName(c.protocolVersion),
      username: c.username ?? null,
      keepalive: c.keepalive,
      clean: session?.clean ?? true,
      subscriptions: session?.subscriptionCount ?? 0,
      queued: session?.queue.length ?? 0,
      inflight: session?.inflightCount ?? 0,
    });
  }
  return { total, clients: list };
}

export function topics(b: ObservedBroker, topic: string, limit: number): object {
  const children = b.retained.children(topic, limit).map((c) => ({
    name: c.name,
    topic: topic === '' ? c.name : `${topic}/${c.name}`,
    retained: c.message !== undefined,
    hasChildren: c.hasChildren,
  }));
  const m = topic === '' ? undefined : b.retained.get(topic);
  return {
    topic,
    children,
    message:
      m === undefined
        ? null
        : { topic: m.topic, qos: m.qos, bytes: m.payload.length, payload: m.payload.toString('base64') },
  };
}
