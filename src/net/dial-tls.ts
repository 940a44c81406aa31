/**
 * TLS client side for the dialers: certificate, PSK and ALPN options as Mosquitto's
 * clients take them (--cafile, --capath, --cert, --key, --ciphers, --tls-version,
 * --tls-alpn, --insecure, --tls-use-os-certs, --psk, --psk-identity).
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import type { DialError, TlsDialOptions } from './dial-options.js';

export type { TlsDialOptions } from './dial-options.js';

const VERSIONS: Record<string, tls.SecureVersion> = {
  'tlsv1.3': 'TLSv1.3',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.1': 'TLSv1.1',
};

export function isValidTlsVersion(v: string): boolean {
  return Object.prototype.hasOwnProperty.call(VERSIONS, v);
}

/**
 * The certificates of a CA directory as OpenSSL finds them: only files named by subject
 * hash ("9d66eef0.0", made by c_rehash or `openssl rehash`) are looked at.
 */
function readCaPath(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!/^[0-9a-f]{8}\.\d+$/.test(name)) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.statSync(file).isFile()) continue;
      const data = fs.readFileSync(file);
      if (data.includes('-----BEGIN CERTIFICATE-----')) out.push(data);
    } catch {
      // Unreadable entries are skipped, as OpenSSL's lookup would.
    }
  }
  return out;
}

/** Build node:tls options; throws with a user-facing message when a file is missing. */
export function buildTlsOptions(host: string, o: TlsDialOptions): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = {};
  if (o.psk !== undefined) {
    const key = Buffer.from(o.psk.key, 'hex');
    const identity = o.psk.identity;
    opts.pskCallback = () => ({ psk: key, identity });
    // Node offers PSK over TLS 1.2 only.
    opts.maxVersion = 'TLSv1.2';
    opts.ciphers = o.ciphers ?? 'PSK';
    opts.checkServerIdentity = () => undefined;
    return opts;
  }
  const ca: (string | Buffer)[] = [];
  if (o.useOsCerts === true) ca.push(...tls.rootCertificates);
  if (o.cafile !== undefined) ca.push(fs.readFileSync(o.cafile));
  if (o.capath !== undefined) ca.push(...readCaPath(o.capath));
  if (ca.length > 0) opts.ca = ca;
  if (o.certfile !== undefined) opts.cert = fs.readFileSync(o.certfile);
  if (o.keyfile !== undefined) opts.key = fs.readFileSync(o.keyfile);
  if (o.ciphers !== undefined) opts.ciphers = o.ciphers;
  if (o.version !== undefined && VERSIONS[o.version] !== undefined) opts.minVersion = VERSIONS[o.version];
  if (o.alpn !== undefined) opts.ALPNProtocols = [o.alpn];
  if (!net.isIP(host)) opts.servername = host;
  opts.rejectUnauthorized = true;
  if (o.insecure === true) opts.checkServerIdentity = () => undefined;
  return opts;
}

export function startTls(
  sock: net.Socket,
  host: string,
  options: TlsDialOptions,
  done: (err: DialError | undefined, secure?: tls.TLSSocket) => void,
): void {
  let opts: tls.ConnectionOptions;
  try {
    opts = buildTlsOptions(host, options);
  } catch (err) {
    return done(err as DialError);
  }
  opts.socket = sock;
  // The name checked against the certificate (node:tls defaults to 'localhost' without it).
  opts.host = host;
  let secure: tls.TLSSocket;
  try {
    secure = tls.connect(opts);
  } catch (err) {
    return done(err as DialError);
  }
  const onError = (err: Error): void => {
    secure.removeListener('secureConnect', onSecure);
    done(err);
  };
  const onSecure = (): void => {
    secure.removeListener('error', onError);
    done(undefined, secure);
  };
  secure.once('error', onError);
  secure.once('secureConnect', onSecure);
}
