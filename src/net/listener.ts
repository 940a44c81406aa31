/**
 * Listeners for TCP and unix sockets. Each accepted stream becomes a Connection handed to
 * the caller. TLS and WebSocket listeners plug in beside these with the same shape.
 */
import net from 'node:net';
import fs from 'node:fs';
import { Connection } from './connection.js';

export interface ListenOptions {
  /** TCP port; 0 picks a free one. Ignored when `unixPath` is set. */
  port?: number;
  /** Address to bind; undefined binds all addresses. */
  host?: string;
  /** Unix socket path, instead of a TCP port. */
  unixPath?: string;
  /** 4 = IPv4 only, 6 = IPv6 only (socket_domain). */
  family?: 4 | 6;
  /** Disable Nagle's algorithm on accepted sockets (set_tcp_nodelay). */
  noDelay?: boolean;
  backlog?: number;
}

export interface Listener {
  /** Port actually bound (useful with port 0), or 0 for unix sockets. */
  readonly port: number;
  readonly address: string;
  close(cb?: () => void): void;
}

export type ConnectionCallback = (conn: Connection) => void;

/**
 * Binds a TCP (or unix) server and passes each raw socket on; shared by the TCP, TLS
 * and WebSocket listeners. `cb` gets the bound listener, or the bind error.
 */
export function listenRaw(
  opts: ListenOptions,
  onSocket: (socket: net.Socket) => void,
  cb: (err: Error | null, listener?: Listener) => void,
  onClose?: () => void,
): void {
  const server = net.createServer({ noDelay: opts.noDelay ?? false }, onSocket);
  let started = false;
  server.once('error', (err) => {
    if (!started) cb(err);
  });
  const onListening = (): void => {
    started = true;
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    const address = typeof addr === 'object' && addr !== null ? addr.address : String(addr);
    // Errors after start (EMFILE on accept) must not crash the broker.
    server.on('error', () => {});
    cb(null, {
      port,
      address,
      close(done) {
        onClose?.();
        server.close(() => done?.());
        if (opts.unixPath !== undefined) {
          try {
            fs.unlinkSync(opts.unixPath);
          } catch {
            // already gone
          }
        }
      },
    });
  };
  if (opts.unixPath !== undefined) {
    try {
      if (fs.statSync(opts.unixPath).isSocket()) fs.unlinkSync(opts.unixPath);
    } catch {
      // does not exist
    }
    server.listen({ path: opts.unixPath, backlog: opts.backlog }, onListening);
  } else {
    server.listen({ port: opts.port ?? 1883, host: opts.host, backlog: opts.backlog ?? 511, ipv6Only: opts.family === 6 }, onListening);
  }
}

export function listenStream(
  opts: ListenOptions,
  onConnection: ConnectionCallback,
  cb: (err: Error | null, listener?: Listener) => void,
): void {
  listenRaw(opts, (socket) => onConnection(new Connection(socket)), cb);
}
