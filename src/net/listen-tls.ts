/**
 * TLS listeners (mosquitto.conf(5): certfile/keyfile or psk_hint on a listener).
 *
 * Every accepted TCP socket is wrapped in a server TLSSocket and handed over as a
 * Connection at once, before the handshake, as Mosquitto counts a connection from TCP
 * accept: "New connection from ..." comes first, and a client that opens the socket and
 * then stalls in (or after) the handshake is cut off by the broker's connect timeout like
 * any other. A failed handshake ends that one socket only.
 */
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Connection } from './connection.js';
import { listenRaw, type ListenOptions, type Listener } from './listener.js';
import { opensslErrorText, type ReloadableTls, type ServerTls } from './tls-options.js';
import { expectPeerIdentity, setPeerIdentity } from './peer-identity.js';

/** Where a listener takes usernames from: CONNECT (undefined), the CN, or the whole subject. */
export type IdentitySource = 'cn' | 'subject' | undefined;

export interface TlsHooks {
  identity: IdentitySource;
  /**
   * The handshake failed or the client certificate did not verify: `lines` are the
   * "OpenSSL Error[n]: ..." lines Mosquitto logs. The socket is destroyed right after.
   */
  onFailure(stream: tls.TLSSocket, lines: string[]): void;
}

/** The certificate verification failure Mosquitto reports whatever the X509 reason. */
const VERIFY_FAILED = 'OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed';

/** X509_NAME_print_ex(..., XN_FLAG_RFC2253): the most specific RDN first, comma separated. */
export function rfc2253Subject(raw: Buffer): string {
  return new X509Certificate(raw).subject.split('\n').reverse().join(',');
}

function identityOf(sock: tls.TLSSocket, source: 'cn' | 'subject'): string | null {
  const cert = sock.getPeerCertificate(false);
  if (cert === null || cert.raw === undefined) return null;
  if (source === 'subject') return rfc2253Subject(cert.raw);
  const cn = cert.subject?.CN;
  // A certificate may carry several CNs; OpenSSL's first index is the first one.
  if (Array.isArray(cn)) return cn[0] ?? null;
  return typeof cn === 'string' ? cn : null;
}

/** Wraps an accepted socket as the server side of TLS with the listener's current context. */
export function wrapServerSocket(socket: net.Socket, server: ServerTls, hooks: TlsHooks): tls.TLSSocket {
  const psk = server.psk;
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: server.secureContext,
    requestCert: server.requestCert,
    rejectUnauthorized: server.rejectUnauthorized,
    pskIdentityHint: server.pskHint,
    pskCallback:
      psk === undefined
        ? undefined
        : (_sock: tls.TLSSocket, identity: string) => {
            const key = psk.get(identity);
            if (key === undefined) return null;
            // With a PSK the identity is the username (use_identity_as_username).
            if (hooks.identity !== undefined) setPeerIdentity(secure, identity);
            return key;
          },
  } as tls.TLSSocketOptions);
  if (hooks.identity !== undefined) expectPeerIdentity(secure);
  let failed = false;
  const failWith = (lines: string[]): void => {
    if (failed) return;
    failed = true;
    hooks.onFailure(secure, lines);
    secure.destroy();
  };
  const onError = (err: Error): void => {
    // A peer that resets mid-handshake is a socket error, not an OpenSSL one.
    if (!/error:[0-9A-Fa-f]{8}:/.test(err.message)) return;
    failWith([`OpenSSL Error[0]: ${opensslErrorText(err)}`]);
  };
  secure.once('error', onError);
  secure.once('secure', () => {
    secure.removeListener('error', onError);
    // Node completes the handshake and leaves verification to us (its verify callback
    // always accepts): refuse here what OpenSSL would have refused in the handshake.
    if (server.requestCert && server.rejectUnauthorized) {
      const verifyError = (secure as unknown as { _handle: { verifyError(): Error | null } })._handle.verifyError();
      if (verifyError !== null) {
        failWith([VERIFY_FAILED]);
        return;
      }
    }
    if (hooks.identity !== undefined && psk === undefined) setPeerIdentity(secure, identityOf(secure, hooks.identity));
  });
  return secure;
}

/** A TLS listener: each TCP accept becomes a Connection over a server TLSSocket. */
export function listenTls(
  opts: ListenOptions,
  context: ReloadableTls,
  hooks: TlsHooks,
  onConnection: (conn: Connection) => void,
  cb: (err: Error | null, listener?: Listener) => void,
): void {
  listenRaw(
    opts,
    (socket) => {
      // Read the current context per accept: a reload (SIGHUP) applies to new clients.
      const secure = wrapServerSocket(socket, context.current, hooks);
      // TLSSocket reports the peer of the socket it wraps.
      onConnection(new Connection(secure));
    },
    cb,
  );
}
