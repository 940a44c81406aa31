/**
 * SOCKS5 client handshake (RFC 1928) with "no authentication" and username/password
 * (RFC 1929) methods, the two Mosquitto's clients support. The proxy resolves the target
 * name (socks5h), so the broker's host name is sent as a domain name.
 */
import type net from 'node:net';
import type { DialError, Socks5Proxy } from './dial-options.js';

export type { Socks5Proxy } from './dial-options.js';

const REPLY_TEXT: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'Network unreachable',
  4: 'Host unreachable',
  5: 'Connection refused',
  6: 'TTL expired',
  7: 'Command not supported',
  8: 'Address type not supported',
};

/** Largest reply we wait for: header + 255-byte domain + port. */
const MAX_REPLY = 4 + 1 + 255 + 2;

/**
 * Failures carry codes of our own: ESOCKSAUTH (no acceptable method), ESOCKSPROXY (bad
 * credentials or a malformed reply), ESOCKSCONNECT (the proxy could not reach the broker).
 */
function proxyError(message: string, code = 'ESOCKSPROXY'): DialError {
  const err: DialError = new Error(message);
  err.code = code;
  return err;
}

export function socks5Handshake(
  sock: net.Socket,
  proxy: Socks5Proxy,
  host: string,
  port: number,
  done: (err: DialError | undefined) => void,
): void {
  let buf = Buffer.alloc(0);
  let stage: 'method' | 'auth' | 'connect' = 'method';
  const useAuth = proxy.username !== undefined;

  const finish = (err: DialError | undefined): void => {
    sock.removeListener('data', onData);
    sock.removeListener('error', onError);
    sock.removeListener('close', onClose);
    done(err);
  };
  const onError = (err: Error): void => finish(err);
  const onClose = (): void => finish(proxyError('Connection closed by proxy', 'ECONNRESET'));

  const sendConnect = (): void => {
    const name = Buffer.from(host, 'utf8');
    const req = Buffer.alloc(7 + name.length);
    req[0] = 5; req[1] = 1; req[2] = 0; req[3] = 3; req[4] = name.length;
    name.copy(req, 5);
    req.writeUInt16BE(port, 5 + name.length);
    stage = 'connect';
    sock.write(req);
  };

  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length > MAX_REPLY) return finish(proxyError('SOCKS5 reply too long'));
    if (stage === 'method') {
      if (buf.length < 2) return;
      const method = buf[1];
      buf = buf.subarray(2);
      if (method === 0) return sendConnect();
      if (method === 2 && useAuth) {
        const u = Buffer.from(proxy.username ?? '', 'utf8');
        const p = Buffer.from(proxy.password ?? '', 'utf8');
        const req = Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]);
        stage = 'auth';
        sock.write(req);
        return;
      }
      return finish(proxyError('SOCKS5 proxy refused our authentication methods', 'ESOCKSAUTH'));
    }
    if (stage === 'auth') {
      if (buf.length < 2) return;
      const status = buf[1];
      buf = buf.subarray(2);
      if (status !== 0) return finish(proxyError('SOCKS5 authentication failed', 'ESOCKSPROXY'));
      return sendConnect();
    }
    // CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT
    if (buf.length < 5) return;
    if (buf[1] !== 0) return finish(proxyError(REPLY_TEXT[buf[1]] ?? 'SOCKS5 error', 'ESOCKSCONNECT'));
    const atyp = buf[3];
    const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4];
    const total = 4 + addrLen + 2;
    if (buf.length < total) return;
    const rest = buf.subarray(total);
    finish(undefined);
    // Bytes after the reply already belong to the tunnelled protocol.
    if (rest.length > 0) sock.unshift(rest);
  };

  sock.on('data', onData);
  sock.once('error', onError);
  sock.once('close', onClose);
  // Offer "no auth", and username/password when we have credentials.
  sock.write(useAuth ? Buffer.from([5, 2, 0, 2]) : Buffer.from([5, 1, 0]));
}
