/**
 * The TLS identity of a connection, for use_identity_as_username and
 * use_subject_as_username (mosquitto.conf(5)): the client certificate's Common Name or
 * its RFC 2253 subject, or the PSK identity. The listeners record it per stream; the
 * CONNECT handler reads it through peerIdentity().
 */
import type { Connection } from './connection.js';

/** string: the identity; null: the listener wants one but the client presented none. */
const identities = new WeakMap<object, string | null>();

/** The listener takes usernames from TLS: start with "none presented" for this stream. */
export function expectPeerIdentity(stream: object): void {
  identities.set(stream, null);
}

export function setPeerIdentity(stream: object, identity: string | null): void {
  identities.set(stream, identity);
}

/** Carries the identity over to a stream layered on top (a WebSocket over TLS). */
export function copyPeerIdentity(from: object, to: object): void {
  if (identities.has(from)) identities.set(to, identities.get(from)!);
}

/**
 * undefined: the listener does not take usernames from TLS (use CONNECT's username);
 * null: it does, and the client has no certificate or no CN; otherwise the username.
 */
export function peerIdentity(conn: Connection): string | null | undefined {
  return identities.get(conn.stream);
}
