/**
 * What a dial is asked for and how it fails: the types the dialers share (dial.ts,
 * dial-tls.ts, dial-ws.ts, socks5.ts), apart so that none of them imports another back.
 */
export interface WebSocketDialOptions {
  /** Path of the ws:// URL, e.g. "/mqtt". */
  path: string;
}

export interface DialOptions {
  host: string;
  port: number;
  /** Connect to this unix socket instead of host:port. */
  unixPath?: string;
  /** Local address to bind the outgoing socket to (-A). */
  bindAddress?: string;
  /** Disable Nagle's algorithm (--nodelay). */
  noDelay?: boolean;
  proxy?: Socks5Proxy;
  tls?: TlsDialOptions;
  websocket?: WebSocketDialOptions;
}

/** A dial failure: `code` is the errno name (ECONNREFUSED, ENOTFOUND, ...) where known. */
export interface DialError extends Error {
  code?: string;
}

export interface TlsDialOptions {
  cafile?: string;
  capath?: string;
  certfile?: string;
  keyfile?: string;
  ciphers?: string;
  /** "tlsv1.3", "tlsv1.2" or "tlsv1.1": the lowest version offered. */
  version?: string;
  alpn?: string;
  /** Skip the host name check (the chain is still verified). */
  insecure?: boolean;
  useOsCerts?: boolean;
  /** Pre-shared key as hex, with its identity: TLS-PSK instead of certificates. */
  psk?: { key: string; identity: string };
}

export interface Socks5Proxy {
  host: string;
  port: number;
  username?: string;
  password?: string;
}
