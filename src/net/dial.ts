/**
 * Dialers: open a byte stream to a broker over TCP or a unix socket, optionally through a
 * SOCKS5 proxy, then TLS, then WebSocket, and hand back one Connection. TLS and ws are
 * loaded lazily so a plain TCP client starts without them.
 */
import net from 'node:net';
import { Connection, type ByteStream } from './connection.js';
import type { DialError, DialOptions } from './dial-options.js';

export type { DialError, DialOptions, WebSocketDialOptions } from './dial-options.js';
export type { Socks5Proxy, TlsDialOptions } from './dial-options.js';

export type DialCallback = (err: DialError | undefined, conn?: Connection) => void;

function openSocket(options: DialOptions, done: (err: DialError | undefined, sock?: net.Socket) => void): void {
  let sock: net.Socket;
  if (options.unixPath !== undefined) {
    sock = net.connect({ path: options.unixPath });
  } else {
    const target = options.proxy ?? { host: options.host, port: options.port };
    const opts: net.NetConnectOpts = { host: target.host, port: target.port };
    if (options.bindAddress !== undefined) opts.localAddress = options.bindAddress;
    sock = net.connect(opts);
  }
  const onError = (err: Error): void => {
    sock.removeListener('connect', onConnect);
    done(err);
  };
  const onConnect = (): void => {
    sock.removeListener('error', onError);
    if (options.noDelay === true) sock.setNoDelay(true);
    done(undefined, sock);
  };
  sock.once('error', onError);
  sock.once('connect', onConnect);
}

/** Open a connection to the broker; the callback runs once. */
export function dial(options: DialOptions, callback: DialCallback): void {
  let called = false;
  const finish: DialCallback = (err, conn) => {
    if (called) return;
    called = true;
    callback(err, conn);
  };
  openSocket(options, (err, sock) => {
    if (err !== undefined || sock === undefined) return finish(err);
    afterSocket(options, sock, finish);
  });
}

function afterSocket(options: DialOptions, sock: net.Socket, finish: DialCallback): void {
  if (options.proxy !== undefined) {
    const proxy = options.proxy;
    import('./socks5.js').then(
      (m) => m.socks5Handshake(sock, proxy, options.host, options.port, (err) => {
        if (err !== undefined) {
          sock.destroy();
          return finish(err);
        }
        afterProxy(options, sock, finish);
      }),
      (err: Error) => finish(err),
    );
    return;
  }
  afterProxy(options, sock, finish);
}

function afterProxy(options: DialOptions, sock: net.Socket, finish: DialCallback): void {
  if (options.tls !== undefined) {
    const tlsOptions = options.tls;
    import('./dial-tls.js').then(
      (m) => m.startTls(sock, options.host, tlsOptions, (err, secure) => {
        if (err !== undefined || secure === undefined) {
          sock.destroy();
          return finish(err);
        }
        afterTls(options, secure, finish);
      }),
      (err: Error) => finish(err),
    );
    return;
  }
  afterTls(options, sock, finish);
}

function afterTls(options: DialOptions, stream: ByteStream, finish: DialCallback): void {
  if (options.websocket !== undefined) {
    const ws = options.websocket;
    import('./dial-ws.js').then(
      (m) => m.startWebSocket(stream, options, ws, (err, duplex) => {
        if (err !== undefined || duplex === undefined) {
          stream.destroy();
          return finish(err);
        }
        finish(undefined, new Connection(duplex));
      }),
      (err: Error) => finish(err),
    );
    return;
  }
  finish(undefined, new Connection(stream));
}
