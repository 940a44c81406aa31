/**
 * The observe plugin: opens the `protocol http` listeners and serves /metrics, /healthz,
 * the dashboard and its JSON (routes.ts). The broker's counters are read when scraped;
 * nothing of this plugin runs per message: a write batch now and then arms the broker's
 * publishProbe for a latency sample (latency.ts).
 *
 *   const observe = createObservePlugin([{ port: 9234, host: '127.0.0.1', protocol: 'http' }]);
 *   broker.plugins.push(observe);   // before broker.start()
 */
import type http from 'node:http';
import type { ListenerSettings } from '../options.js';
import type { ReloadTarget } from '../signals.js';
import { loadDashboardFiles } from './dashboard-files.js';
import { startHttpHost, type HttpHost } from './http-host.js';
import { httpListenerSpec, type HttpAccess } from './http-listener.js';
import { LatencySampler } from './latency.js';
import { BrokerMetrics, listenerLabel, type ConnectionTotal, type ConnectionTotals } from './metrics.js';
import { handleRequest, route, type RouteContext } from './routes.js';
import type { LatencyTotals } from './snapshot.js';
import { protocolName, type ObserveSources } from './view.js';
import type { BrokerCore, BrokerPlugin, ClientContext, ListenerRuntime } from '../core.js';

export interface ObservePlugin extends BrokerPlugin, ReloadTarget {
  /** Bound port of each http listener, in the order given (useful with port 0). */
  ports(): number[];
  /**
   * Serves the dashboard on a websockets listener without http_dir, guarded by that
   * listener's password file; undefined before init().
   */
  dashboardHandler(settings: ListenerSettings): ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
}

type Stage = 'starting' | 'running' | 'stopping';

/**
 * Removes the `protocol http` listeners from the broker's options and returns them: the
 * broker opens MQTT listeners only, this plugin the http ones. Call after the security
 * files are loaded, so that each keeps its per-listener password file.
 */
export function takeHttpListeners(options: { listeners: ListenerSettings[] }): ListenerSettings[] {
  const http = options.listeners.filter((l) => l.protocol === 'http');
  if (http.length > 0) options.listeners = options.listeners.filter((l) => l.protocol !== 'http');
  return http;
}

/**
 * With the observe plugin on, websockets listeners without http_dir serve the dashboard
 * too (guarded by their own listener's password file), so that the page and its live tail
 * share one port.
 */
export function serveDashboardOnWebsockets(options: { listeners: ListenerSettings[] }, observe: ObservePlugin): void {
  for (const l of options.listeners) {
    if ((l.protocol ?? l.config?.protocol) !== 'websockets' || (l.config?.httpDir ?? null) !== null) continue;
    l.httpHandler = (req, res) => {
      const handler = observe.dashboardHandler(l);
      if (handler !== undefined) handler(req, res);
      else {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('starting\n');
      }
    };
  }
}

export function createObservePlugin(listeners: ListenerSettings[], sources: ObserveSources = {}): ObservePlugin {
  let broker: BrokerCore | undefined;
  let ctx: RouteContext | undefined;
  let sampler: LatencySampler | undefined;
  let stage: Stage = 'starting';
  let host: HttpHost | undefined;
  const totals: ConnectionTotals = new Map();
  const totalsByListener = new WeakMap<ListenerRuntime, ConnectionTotal[]>();
  const latency: LatencyTotals = { count: 0, sum: 0 };

  const accessFor = (settings: ListenerSettings): HttpAccess => ({
    // Read per request: SIGHUP reloads the password file in place.
    get authenticator() {
      return settings.authenticator ?? broker!.options.authenticator;
    },
    get allowAnonymous() {
      return settings.allowAnonymous ?? broker!.options.allowAnonymous;
    },
  });

  const unhealthy = (): string | undefined => {
    if (stage === 'starting') return 'starting';
    if (stage === 'stopping') return 'shutting down';
    // With Redis the broker's shared state (presence, sessions, retained) lives there.
    // A cluster node without Redis cannot route across nodes nor see takeovers; it is
    // healthy again once it rejoined (its lease taken again), not merely reconnected.
    if (sources.cluster !== undefined && !sources.cluster.stats.connected()) return 'cluster: redis connection lost';
    if (sources.redis !== undefined && !sources.redis.stats.connected()) return 'redis connection lost';
    return undefined;
  };

  const plugin: ObservePlugin = {
    async init(b: BrokerCore): Promise<void> {
      broker = b;
      const metrics = new BrokerMetrics(b, sources, totals);
      sampler = new LatencySampler(
        (probe) => (b.publishProbe = probe),
        (seconds) => {
          latency.count++;
          latency.sum += seconds;
          metrics.latency.observe(seconds);
        },
      );
      ctx = { broker: b, metrics, files: loadDashboardFiles(), latency, unhealthy };
      // One exposition now, before the listeners open: the first compiles prom-client's
      // path (20-30 ms of CPU measured here), which would otherwise hold the event loop at
      // the first scrape, in the middle of the traffic.
      await metrics.metrics();
      const c = ctx;
      // The listeners run in a thread of their own (http-worker.ts says why); each of
      // their requests is answered here.
      const access = listeners.map(accessFor);
      host = await startHttpHost(listeners.map(httpListenerSpec), b.log, (i, info) => route(c, access[i], info));
    },

    start(): void {
      stage = 'running';
      sampler?.start();
    },

    async onTerminate(): Promise<void> {
      stage = 'stopping';
    },

    async stop(): Promise<void> {
      stage = 'stopping';
      ctx?.metrics.close();
      const h = host;
      host = undefined;
      await h?.close();
    },

    beforeFlush(): void {
      sampler?.onFlush();
    },

    onClientConnected(client: ClientContext): void {
      // The listener's entries by protocol version, found without making a label per connect.
      const rt = client.listener;
      let byVersion = totalsByListener.get(rt);
      if (byVersion === undefined) totalsByListener.set(rt, (byVersion = []));
      const v = client.protocolVersion;
      let t = byVersion[v];
      if (t === undefined) {
        const listener = listenerLabel(rt.listener?.port ?? rt.settings.port, rt.settings.unixPath);
        const version = protocolName(v);
        const key = `${listener} ${version}`;
        const held = totals.get(key) ?? { listener, version, count: 0, current: 0 };
        totals.set(key, held);
        byVersion[v] = t = held;
      }
      t.count++;
      t.current++;
    },

    onClientDisconnected(client: ClientContext): void {
      // The broker calls this once for each client it called onClientConnected for.
      const t = totalsByListener.get(client.listener)?.[client.protocolVersion];
      if (t !== undefined && t.current > 0) t.current--;
    },

    reload(): void {
      host?.reload();
    },

    ports(): number[] {
      return host?.ports ?? [];
    },

    dashboardHandler(settings: ListenerSettings) {
      if (ctx === undefined) return undefined;
      const c = ctx;
      const access = accessFor(settings);
      return (req, res) => handleRequest(c, access, req, res);
    },
  };
  return plugin;
}
