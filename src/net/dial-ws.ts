/**
 * MQTT over WebSocket for the dialers: the `mqtt` subprotocol over an already open TCP or
 * TLS stream, exposed as a Duplex so the rest of the stack sees bytes as usual.
 */
import type { Duplex } from 'node:stream';
import { WebSocket, createWebSocketStream } from 'ws';
import type { ByteStream } from './connection.js';
import type { DialError, DialOptions, WebSocketDialOptions } from './dial-options.js';

export function startWebSocket(
  stream: ByteStream,
  options: DialOptions,
  ws: WebSocketDialOptions,
  done: (err: DialError | undefined, duplex?: Duplex) => void,
): void {
  const scheme = options.tls !== undefined ? 'wss' : 'ws';
  const url = `${scheme}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}${ws.path}`;
  const socket = new WebSocket(url, ['mqtt'], {
    // Reuse the stream we already opened (through proxy and TLS as configured).
    createConnection: () => stream as unknown as import('node:net').Socket,
    perMessageDeflate: false,
  });
  const onError = (err: Error): void => {
    socket.removeListener('open', onOpen);
    done(err);
  };
  const onOpen = (): void => {
    socket.removeListener('error', onError);
    done(undefined, createWebSocketStream(socket));
  };
  socket.once('error', onError);
  socket.once('open', onOpen);
}
