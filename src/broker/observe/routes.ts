/**
 * Requests on the http listener (and, for the dashboard, on websockets listeners without
 * http_dir): /healthz, /metrics, /api/{overview,clients,topics} and the dashboard files.
 * A request is answered from what it is (method, path, credentials, address), so that
 * the same routes serve the http listeners' worker thread (http-host.ts) and the
 * websockets listeners of the main thread.
 */
import type http from 'node:http';
import { authorize, textReply, writeReply, type HttpAccess, type Reply, type RequestInfo } from './http-listener.js';
import type { StaticFile } from './dashboard-files.js';
import type { BrokerMetrics } from './metrics.js';
import { clients, overview, topics, type LatencyTotals } from './snapshot.js';
import type { ObservedBroker } from './view.js';

export interface RouteContext {
  broker: ObservedBroker;
  metrics: BrokerMetrics;
  files: Map<string, StaticFile>;
  latency: LatencyTotals;
  /** undefined when healthy, else why not (the body of the 503). */
  unhealthy(): string | undefined;
}

/** Pages of the dashboard may only talk to this broker (its JSON and its websockets). */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'";

function jsonReply(body: object): Reply {
  const text = JSON.stringify(body);
  return {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
    body: text,
  };
}

function limitParam(q: URLSearchParams, fallback: number, max: number): number {
  const n = Number.parseInt(q.get('limit') ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, max) : fallback;
}

export async function route(ctx: RouteContext, access: HttpAccess, req: RequestInfo): Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return textReply(405, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
  let url: URL;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch {
    return textReply(400, 'Bad Request\n');
  }
  const p = url.pathname;
  if (p === '/healthz') {
    const why = ctx.unhealthy();
    return why === undefined ? textReply(200, 'ok\n') : textReply(503, `${why}\n`);
  }
  const refused = await authorize(access, req.authorization, req.address);
  if (refused !== undefined) return refused;
  if (p === '/metrics') {
    try {
      const text = await ctx.metrics.metrics();
      return {
        status: 200,
        headers: { 'content-type': ctx.metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' },
        body: text,
      };
    } catch (err) {
      return textReply(500, `Error collecting metrics: ${(err as Error).message}\n`);
    }
  }
  if (p === '/api/overview') return jsonReply(overview(ctx.broker, ctx.latency));
  if (p === '/api/clients') return jsonReply(clients(ctx.broker, limitParam(url.searchParams, 1000, 10000)));
  if (p === '/api/topics') return jsonReply(topics(ctx.broker, url.searchParams.get('topic') ?? '', limitParam(url.searchParams, 1000, 10000)));
  const file = ctx.files.get(p);
  if (file === undefined) return textReply(404, 'Not Found\n');
  return {
    status: 200,
    headers: {
      'content-type': file.type,
      'content-length': file.body.length,
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    },
    body: file.body,
  };
}

/** What route() needs of a request of node:http. */
export function requestInfo(req: http.IncomingMessage): RequestInfo {
  return { method: req.method ?? 'GET', url: req.url ?? '/', authorization: req.headers.authorization, address: req.socket.remoteAddress ?? '' };
}

/** Answers a request of node:http in this thread (the websockets listeners' dashboard). */
export function handleRequest(ctx: RouteContext, access: HttpAccess, req: http.IncomingMessage, res: http.ServerResponse): void {
  route(ctx, access, requestInfo(req)).then(
    (reply) => writeReply(res, reply),
    (err: Error) => writeReply(res, textReply(500, `Error: ${err.message}\n`)),
  );
}
