/**
 * The `protocol http` listener: /metrics, /healthz, the dashboard and its JSON, on a
 * listener of its own with the listener options of mosquitto.conf: the address of
 * `listener PORT ADDRESS` (or bind_interface), certfile/keyfile for HTTPS (re-read on
 * SIGHUP like every TLS listener's), max_connections, and the password_file in force on
 * it (per_listener_settings) for HTTP basic authentication.
 *
 * Access: with a password file, every path but /healthz needs a user and password from
 * it (the password file's own check: constant time, cached); without one,
 * allow_anonymous true lets everyone in and false refuses everyone (403). /healthz is
 * open: load balancers probe it without credentials, and it tells only up or down.
 */
import http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import { listenRaw, type Listener } from '../../net/listener.js';
import { wrapServerSocket } from '../../net/listen-tls.js';
import { ReloadableTls, isTlsListener, TlsConfigError } from '../../net/tls-options.js';
import type { ListenerSettings } from '../options.js';
import type { Authenticator } from '../security.js';
import type { Log } from '../log.js';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HttpAccess {
  authenticator: Authenticator | undefined;
  allowAnonymous: boolean;
}

/** Longest Authorization header value considered; longer ones are refused unread. */
const MAX_AUTH_HEADER = 1024;

export function sendText(res: http.ServerResponse, code: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(code, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** user and password of a Basic Authorization header, or undefined. */
export function parseBasicAuth(header: string | undefined): { username: string; password: Buffer } | undefined {
  if (header === undefined || header.length > MAX_AUTH_HEADER) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1], 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return undefined;
  return { username: decoded.subarray(0, colon).toString('utf8'), password: decoded.subarray(colon + 1) };
}

/**
 * Calls `next` when the request may go on; otherwise answers 401 (asking the browser for
 * a password) or 403.
 */
export function guard(access: HttpAccess, req: http.IncomingMessage, res: http.ServerResponse, next: () => void): void {
  const auth = access.authenticator;
  if (auth === undefined) {
    if (access.allowAnonymous) next();
    else sendText(res, 403, 'Forbidden: allow_anonymous is false and no password_file is set for this listener.\n');
    return;
  }
  const refuse = (): void => sendText(res, 401, 'Unauthorized\n', { 'www-authenticate': 'Basic realm="ts-mosquitto", charset="UTF-8"' });
  const creds = parseBasicAuth(req.headers.authorization);
  if (creds === undefined) {
    refuse();
    return;
  }
  const address = req.socket.remoteAddress ?? '';
  Promise.resolve(auth.authenticate({ clientId: '', username: creds.username, password: creds.password, address })).then(
    (ok) => (ok ? next() : refuse()),
    () => refuse(),
  );
}

/** Opens one http listener; resolves with it once bound. TLS setup failures are logged as for MQTT listeners. */
export function openHttpListener(settings: ListenerSettings, log: Log, handler: Handler): Promise<{ listener: Listener; tls: ReloadableTls | undefined }> {
  const cfg = settings.config;
  let context: ReloadableTls | undefined;
  if (cfg !== undefined && isTlsListener(cfg)) {
    try {
      context = new ReloadableTls({ ...cfg, pskFile: cfg.security.pskFile });
    } catch (err) {
      if (err instanceof TlsConfigError) for (const line of err.lines) log.error(line);
      else log.error(`Error: ${(err as Error).message}`);
      return Promise.reject(err);
    }
  }
  log.info(`Opening http listen socket on port ${settings.port}.`);
  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handler);
  server.keepAliveTimeout = 5_000;
  // The connections, to close at shutdown: the http server is handed sockets and never
  // listens itself, so its own closeAllConnections knows none of them, and a scraper's
  // kept-alive connection (Prometheus keeps one) would hold the broker's exit.
  const open = new Set<net.Socket>();
  const max = settings.maxConnections ?? -1;
  const hooks = {
    identity: undefined,
    onFailure(_stream: tls.TLSSocket, lines: string[]) {
      for (const line of lines) log.error(line);
    },
  };
  return new Promise((resolve, reject) => {
    listenRaw(
      { port: settings.port, host: settings.host, unixPath: settings.unixPath, family: settings.family },
      (raw) => {
        if (max >= 0 && open.size >= max) {
          raw.destroy();
          return;
        }
        open.add(raw);
        raw.once('close', () => open.delete(raw));
        raw.on('error', () => {});
        server.emit('connection', context !== undefined ? wrapServerSocket(raw, context.current, hooks) : raw);
      },
      (err, listener) => (err !== null ? reject(err) : resolve({ listener: listener!, tls: context })),
      () => {
        server.close();
        for (const socket of open) socket.destroy();
      },
    );
  });
}
