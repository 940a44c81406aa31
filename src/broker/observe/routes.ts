/**
 * Requests on the http listener (and, for the dashboard, on websockets listeners without
 * http_dir): /healthz, /metrics, /api/{overview,clients,topics} and the dashboard files.
 */
import type http from 'node:http';
import { guard, sendText, type HttpAccess } from './http-listener.js';
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

function sendJson(res: http.ServerResponse, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function limitParam(q: URLSearchParams, fallback: number, max: number): number {
  const n = Number.parseInt(q.get('limit') ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, max) : fallback;
}

export function handleRequest(ctx: RouteContext, access: HttpAccess, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    sendText(res, 400, 'Bad Request\n');
    return;
  }
  const p = url.pathname;
  if (p === '/healthz') {
    const why = ctx.unhealthy();
    if (why === undefined) sendText(res, 200, 'ok\n');
    else sendText(res, 503, `${why}\n`);
    return;
  }
  guard(access, req, res, () => {
    if (p === '/metrics') {
      ctx.metrics.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
          res.end(text);
        },
        (err: Error) => sendText(res, 500, `Error collecting metrics: ${err.message}\n`),
      );
      return;
    }
    if (p === '/api/overview') return sendJson(res, overview(ctx.broker, ctx.latency));
    if (p === '/api/clients') return sendJson(res, clients(ctx.broker, limitParam(url.searchParams, 1000, 10000)));
    if (p === '/api/topics') return sendJson(res, topics(ctx.broker, url.searchParams.get('topic') ?? '', limitParam(url.searchParams, 1000, 10000)));
    const file = ctx.files.get(p);
    if (file === undefined) {
      sendText(res, 404, 'Not Found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
}
