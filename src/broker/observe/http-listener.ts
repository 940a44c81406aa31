/**
 * The `protocol http` listener: /metrics, /healthz, the dashboard and its JSON, on a
 * listener of its own with the listener options of mosquitto.conf: the address of
 * `listener PORT ADDRESS` (or bind_interface), certfile/keyfile for HTTPS (re-read on
 * SIGHUP like every TLS listener's), max_connections, and the password_file in force on
 * it (per_listener_settings) for HTTP basic authentication.
 *
 * These listeners run in a worker thread of their own (http-worker.ts, started by
 * http-host.ts); each request is answered by the main thread, which holds the broker.
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
import { ReloadableTls, isTlsListener, TlsConfigError, type TlsListenerOptions } from '../../net/tls-options.js';
import type { ListenerSettings } from '../options.js';
import type { Authenticator } from '../security.js';

export interface HttpAccess {
  authenticator: Authenticator | undefined;
  allowAnonymous: boolean;
}

/** What a request is, as the routes read it: plain data, passed between threads. */
export interface RequestInfo {
  method: string;
  url: string;
  authorization: string | undefined;
  /** The peer's address. */
  address: string;
}

/** An answer: status, headers and body, plain data. */
export interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: string | Uint8Array;
}

/** An http listener's settings, plain data (a worker thread opens it). */
export interface HttpListenerSpec {
  port: number;
  host: string | undefined;
  unixPath: string | undefined;
  family: 4 | 6 | undefined;
  maxConnections: number;
  /** certfile/keyfile given: HTTPS with these settings. */
  tls: TlsListenerOptions | undefined;
}

/** The lines a listener logs, by level. */
export interface HttpLog {
  info(line: string): void;
  error(line: string): void;
}

/** Longest Authorization header value considered; longer ones are refused unread. */
const MAX_AUTH_HEADER = 1024;

export function textReply(status: number, body: string, headers: Record<string, string | number> = {}): Reply {
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
    body,
  };
}

/** Writes a reply (a HEAD request gets the headers alone: node:http drops the body). */
export function writeReply(res: http.ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
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
 * Resolves undefined when the request may go on; otherwise with the refusal: 401 (asking
 * the browser for a password) or 403.
 */
export async function authorize(access: HttpAccess, authorization: string | undefined, address: string): Promise<Reply | undefined> {
  const auth = access.authenticator;
  if (auth === undefined) {
    if (access.allowAnonymous) return undefined;
    return textReply(403, 'Forbidden: allow_anonymous is false and no password_file is set for this listener.\n');
  }
  const refuse = textReply(401, 'Unauthorized\n', { 'www-authenticate': 'Basic realm="ts-mosquitto", charset="UTF-8"' });
  const creds = parseBasicAuth(authorization);
  if (creds === undefined) return refuse;
  try {
    const ok = await auth.authenticate({ clientId: '', username: creds.username, password: creds.password, address });
    return ok ? undefined : refuse;
  } catch {
    return refuse;
  }
}

/** The plain settings of a `protocol http` listener. */
export function httpListenerSpec(settings: ListenerSettings): HttpListenerSpec {
  const cfg = settings.config;
  return {
    port: settings.port,
    host: settings.host,
    unixPath: settings.unixPath,
    family: settings.family,
    maxConnections: settings.maxConnections ?? -1,
    tls: cfg !== undefined && isTlsListener(cfg) ? {
      cafile: cfg.cafile,
      capath: cfg.capath,
      certfile: cfg.certfile,
      keyfile: cfg.keyfile,
      crlfile: cfg.crlfile,
      ciphers: cfg.ciphers,
      ciphersTls13: cfg.ciphersTls13,
      dhparamfile: cfg.dhparamfile,
      tlsVersion: cfg.tlsVersion,
      requireCertificate: cfg.requireCertificate,
      useIdentityAsUsername: cfg.useIdentityAsUsername,
      useSubjectAsUsername: cfg.useSubjectAsUsername,
      pskHint: cfg.pskHint,
      pskFile: cfg.security.pskFile,
    } : undefined,
  };
}

/**
 * Opens one http listener; resolves with it once bound. A TLS setup failure is logged as
 * for MQTT listeners (the lines of the TlsConfigError) and rejects.
 */
export function openHttpListener(
  spec: HttpListenerSpec,
  log: HttpLog,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ listener: Listener; tls: ReloadableTls | undefined }> {
  let context: ReloadableTls | undefined;
  if (spec.tls !== undefined) {
    try {
      context = new ReloadableTls(spec.tls);
    } catch (err) {
      if (err instanceof TlsConfigError) for (const line of err.lines) log.error(line);
      else log.error(`Error: ${(err as Error).message}`);
      return Promise.reject(err);
    }
  }
  log.info(`Opening http listen socket on port ${spec.port}.`);
  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handler);
  server.keepAliveTimeout = 5_000;
  // The connections, to close at shutdown: the http server is handed sockets and never
  // listens itself, so its own closeAllConnections knows none of them, and a scraper's
  // kept-alive connection (Prometheus keeps one) would hold the broker's exit.
  const open = new Set<net.Socket>();
  const max = spec.maxConnections;
  const hooks = {
    identity: undefined,
    onFailure(_stream: tls.TLSSocket, lines: string[]) {
      for (const line of lines) log.error(line);
    },
  };
  return new Promise((resolve, reject) => {
    listenRaw(
      { port: spec.port, host: spec.host, unixPath: spec.unixPath, family: spec.family },
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
