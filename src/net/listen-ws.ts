/**
 * WebSocket listeners (mosquitto.conf(5): `protocol websockets`, plain or with the TLS
 * options for wss). Any path is accepted (MQTT.js asks for /mqtt, others for /); the
 * "mqtt" subprotocol is chosen when offered, else "mqttv3.1" (MQTT 3.1.1, section 6:
 * the server selects "mqtt"). Binary frames carry the MQTT byte stream, and a frame may
 * hold part of a packet or several: the stream becomes a Duplex and then an ordinary
 * Connection, so limits, auth and routing are the same as for TCP. Plain HTTP requests
 * get files from http_dir.
 *
 * Until the upgrade completes the socket is ours: the TLS handshake, the HTTP request and
 * the upgrade together must finish within `upgradeTimeout`, or the socket is dropped.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { Connection, type ByteStream } from './connection.js';
import { listenRaw, type ListenOptions, type Listener } from './listener.js';
import { wrapServerSocket, type TlsHooks } from './listen-tls.js';
import type { ReloadableTls } from './tls-options.js';
import { copyPeerIdentity } from './peer-identity.js';
import { serveHttpDir } from './http-dir.js';

export interface WebSocketListenOptions extends ListenOptions {
  /** Directory of files served to plain HTTP requests; null serves none. */
  httpDir: string | null;
  /** Answers plain HTTP requests when httpDir is null (the dashboard, broker/observe/). */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Set for wss: the listener's TLS context and failure hooks. */
  tls?: { context: ReloadableTls; hooks: TlsHooks };
  /**
   * HTTP and WebSocket events for the log, with a libwebsockets-style level bit
   * (1 error, 4 notice, 8 info) so that websockets_log_level can select them.
   */
  onEvent?(level: number, line: string): void;
  /** Milliseconds allowed from TCP accept to a completed upgrade. */
  upgradeTimeout: number;
  /** Largest WebSocket frame accepted, bytes. */
  maxPayload: number;
  /** websockets_headers_size: largest HTTP header block, bytes; undefined: Node's default. */
  maxHeaderSize?: number;
}

/** Subprotocols in order of preference; Mosquitto offers the same two. */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

export function selectSubprotocol(offered: Set<string>): string | false {
  for (const p of SUBPROTOCOLS) if (offered.has(p)) return p;
  return false;
}

export function listenWebSocket(
  opts: WebSocketListenOptions,
  onConnection: (conn: Connection) => void,
  cb: (err: Error | null, listener?: Listener) => void,
): void {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxPayload,
    handleProtocols: (offered) => selectSubprotocol(offered),
  });
  const httpServer = http.createServer(opts.maxHeaderSize !== undefined ? { maxHeaderSize: opts.maxHeaderSize } : {});
  const event = opts.onEvent;
  httpServer.on('request', (req, res) => {
    if (opts.httpDir === null && opts.httpHandler !== undefined) opts.httpHandler(req, res);
    else serveHttpDir(opts.httpDir, req, res);
    if (event !== undefined) {
      const peer = (req.socket as Duplex & { raw?: net.Socket }).raw?.remoteAddress ?? req.socket.remoteAddress;
      event(8, `http: ${req.method ?? '?'} ${req.url ?? ''} from ${peer ?? 'unknown'}: ${res.statusCode}`);
    }
  });
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pending = socket as Duplex & { upgradeTimer?: NodeJS.Timeout; raw?: net.Socket };
    if (event !== undefined) {
      const offered = req.headers['sec-websocket-protocol'] ?? '';
      const chosen = selectSubprotocol(new Set(String(offered).split(',').map((x) => x.trim()).filter((x) => x !== '')));
      const from = pending.raw?.remoteAddress ?? 'unknown';
      if (chosen === false) event(1, `websockets: refused upgrade from ${from} on ${req.url ?? ''}: no mqtt subprotocol offered`);
      else event(4, `websockets: upgrade from ${from} on ${req.url ?? ''}, protocol ${chosen}`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (pending.upgradeTimer !== undefined) clearTimeout(pending.upgradeTimer);
      const duplex = createWebSocketStream(ws) as ByteStream;
      const raw = pending.raw;
      duplex.remoteAddress = raw?.remoteAddress;
      duplex.remotePort = raw?.remotePort;
      duplex.localPort = raw?.localPort;
      copyPeerIdentity(socket, duplex);
      onConnection(new Connection(duplex));
    });
  });
  listenRaw(
    opts,
    (raw) => {
      const timer = setTimeout(() => raw.destroy(), opts.upgradeTimeout);
      timer.unref();
      raw.once('close', () => clearTimeout(timer));
      raw.on('error', () => {});
      const stream: Duplex = opts.tls !== undefined ? wrapServerSocket(raw, opts.tls.context.current, opts.tls.hooks) : raw;
      const tagged = stream as Duplex & { upgradeTimer?: NodeJS.Timeout; raw?: net.Socket };
      tagged.upgradeTimer = timer;
      tagged.raw = raw;
      // The HTTP server reads the request from whatever stream we give it: TCP or TLS.
      httpServer.emit('connection', stream);
    },
    cb,
    () => {
      httpServer.close();
      wss.close();
    },
  );
}
