/**
 * The server side of TLS for listeners: a listener's certificate, CA, CRL, cipher, version,
 * DH and PSK settings (mosquitto.conf(5), "Certificate based SSL/TLS support" and
 * "Pre-shared-key based SSL/TLS support") turned into a tls.SecureContext.
 *
 * Files are read when the listener opens and again on reload (SIGHUP), so renewed
 * certificates take effect for new connections without a restart; established
 * connections keep the context they were made with. A failed reload keeps the old one.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

/** The TLS fields of a listener, named as in the parsed mosquitto.conf. */
export interface TlsListenerOptions {
  cafile: string | null;
  capath: string | null;
  certfile: string | null;
  keyfile: string | null;
  crlfile: string | null;
  ciphers: string | null;
  ciphersTls13: string | null;
  dhparamfile: string | null;
  tlsVersion: string | null;
  requireCertificate: boolean;
  useIdentityAsUsername: boolean;
  useSubjectAsUsername: boolean;
  pskHint: string | null;
  /** psk_file of the security settings in force on this listener. */
  pskFile: string | null;
}

/** A failure to build the context: the lines Mosquitto logs for it, first line first. */
export class TlsConfigError extends Error {
  readonly lines: string[];
  constructor(lines: string[]) {
    super(lines[0]);
    this.lines = lines;
  }
}

/** What each accepted socket is wrapped with. */
export interface ServerTls {
  secureContext: tls.SecureContext;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  /** PSK listeners: identity -> key, read from psk_file. */
  psk: Map<string, Buffer> | undefined;
  pskHint: string | undefined;
}

/** True when the listener speaks TLS: certificates (certfile + keyfile) or a PSK hint. */
export function isTlsListener(o: Pick<TlsListenerOptions, 'certfile' | 'keyfile' | 'pskHint'>): boolean {
  return (o.certfile !== null && o.keyfile !== null) || o.pskHint !== null;
}

const VERSIONS: Record<string, tls.SecureVersion> = {
  'tlsv1.3': 'TLSv1.3',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.1': 'TLSv1.1',
};

/** OpenSSL 3's error line as Mosquitto prints it: `error:CODE:LIBRARY::REASON`. */
export function opensslErrorText(err: Error): string {
  const m = /error:([0-9A-Fa-f]{8}):([^:]*):[^:]*:([^:\n]*)/.exec(err.message);
  if (m !== null) return `error:${m[1].toUpperCase()}:${m[2]}::${m[3]}`;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'error:80000002:system library::No such file or directory';
  if (code === 'EACCES') return 'error:8000000D:system library::Permission denied';
  return err.message.split('\n')[0];
}

function fail(first: string, err: unknown): never {
  const lines = [first];
  if (err instanceof Error) lines.push(`OpenSSL Error[0]: ${opensslErrorText(err)}`);
  throw new TlsConfigError(lines);
}

function readOrFail(file: string, first: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    return fail(first, err);
  }
}

/** Every PEM certificate file in a CA directory (c_rehash links included). */
function readCaPath(dir: string): Buffer[] {
  const out: Buffer[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // Mosquitto starts with a missing capath; lookups in it simply find nothing.
    return out;
  }
  for (const name of names) {
    try {
      const data = fs.readFileSync(path.join(dir, name));
      if (data.includes('-----BEGIN CERTIFICATE-----')) out.push(data);
    } catch {
      // directories and unreadable entries are skipped, as OpenSSL's lookup would
    }
  }
  return out;
}

/**
 * psk_file: one `identity:hexkey` per line (mosquitto.conf(5)). Lines that do not fit are
 * skipped; the file is bounded by what readFileSync returns, checked per line.
 */
export function parsePskFile(text: string): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const hex = line.slice(colon + 1);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) continue;
    map.set(line.slice(0, colon), Buffer.from(hex, 'hex'));
  }
  return map;
}

/**
 * Node takes TLS 1.2 ciphers and TLS 1.3 suites in one list and disables TLS 1.3 when the
 * list names no suite; Mosquitto sets them apart, so each side keeps its default.
 */
function cipherList(o: TlsListenerOptions, psk: boolean): string | undefined {
  if (o.ciphers === null && o.ciphersTls13 === null && !psk) return undefined;
  const defaults = tls.DEFAULT_CIPHERS.split(':');
  const suites = o.ciphersTls13 ?? defaults.filter((c) => c.startsWith('TLS_')).join(':');
  let ciphers = o.ciphers ?? defaults.filter((c) => !c.startsWith('TLS_')).join(':');
  if (psk && o.ciphers === null) ciphers = o.certfile !== null ? `${ciphers}:PSK` : 'PSK';
  return `${suites}:${ciphers}`;
}

/** Reads every file the listener names and builds its context; throws TlsConfigError. */
export function buildServerTls(o: TlsListenerOptions): ServerTls {
  const opts: tls.SecureContextOptions = {};
  const psk = o.pskHint !== null;
  if (o.tlsVersion !== null) {
    const v = VERSIONS[o.tlsVersion];
    if (v === undefined) throw new TlsConfigError([`Error: Unsupported tls_version "${o.tlsVersion}".`]);
    opts.minVersion = v;
  }
  // Node's PSK callback serves TLS 1.2 only: a PSK-only listener stays below 1.3.
  if (psk && o.certfile === null) opts.maxVersion = 'TLSv1.2';
  const ca: Buffer[] = [];
  if (o.cafile !== null) ca.push(readOrFail(o.cafile, `Error: Unable to load CA certificates. Check cafile "${o.cafile}".`));
  if (o.capath !== null) ca.push(...readCaPath(o.capath));
  if (ca.length > 0) opts.ca = ca;
  if (o.certfile !== null) opts.cert = readOrFail(o.certfile, `Error: Unable to load server certificate "${o.certfile}". Check certfile.`);
  if (o.keyfile !== null) opts.key = readOrFail(o.keyfile, `Error: Unable to load server key file "${o.keyfile}". Check keyfile.`);
  if (o.crlfile !== null) {
    opts.crl = readOrFail(o.crlfile, `Error: Unable to load certificate revocation file "${o.crlfile}". Check crlfile.`);
  }
  if (o.dhparamfile !== null) {
    try {
      opts.dhparam = fs.readFileSync(o.dhparamfile);
    } catch {
      throw new TlsConfigError([`Error loading dhparamfile "${o.dhparamfile}".`]);
    }
  }
  const ciphers = cipherList(o, psk);
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext({ ...opts, ciphers });
  } catch (err) {
    throw contextError(o, opts, err);
  }
  let pskMap: Map<string, Buffer> | undefined;
  if (psk) {
    pskMap = o.pskFile !== null ? parsePskFile(readOrFail(o.pskFile, `Error: Unable to open psk_file "${o.pskFile}".`).toString()) : new Map();
  }
  return {
    secureContext,
    requestCert: o.requireCertificate,
    rejectUnauthorized: o.requireCertificate,
    psk: pskMap,
    pskHint: o.pskHint ?? undefined,
  };
}

/** Names the setting that made createSecureContext fail, in Mosquitto's words. */
function contextError(o: TlsListenerOptions, opts: tls.SecureContextOptions, err: unknown): TlsConfigError {
  const probe = (extra: tls.SecureContextOptions): boolean => {
    try {
      tls.createSecureContext(extra);
      return true;
    } catch {
      return false;
    }
  };
  let first: string;
  if (o.ciphers !== null && !probe({ ciphers: o.ciphers })) {
    first = `Error: Unable to set TLS ciphers. Check cipher list "${o.ciphers}".`;
  } else if (o.ciphersTls13 !== null && !probe({ ciphers: `${o.ciphersTls13}:${tls.DEFAULT_CIPHERS}` })) {
    first = `Error: Unable to set TLS 1.3 ciphersuites. Check cipher_tls13 list "${o.ciphersTls13}".`;
  } else if (opts.ca !== undefined && !probe({ ca: opts.ca })) {
    first = `Error: Unable to load CA certificates. Check cafile "${o.cafile}".`;
  } else if (opts.cert !== undefined && !probe({ cert: opts.cert })) {
    first = `Error: Unable to load server certificate "${o.certfile}". Check certfile.`;
  } else if (opts.crl !== undefined && !probe({ crl: opts.crl })) {
    first = `Error: Unable to load certificate revocation file "${o.crlfile}". Check crlfile.`;
  } else if (opts.dhparam !== undefined && !probe({ dhparam: opts.dhparam })) {
    return new TlsConfigError([`Error loading dhparamfile "${o.dhparamfile}".`]);
  } else {
    first = `Error: Unable to load server key file "${o.keyfile}". Check keyfile.`;
  }
  const lines = [first];
  if (err instanceof Error) lines.push(`OpenSSL Error[0]: ${opensslErrorText(err)}`);
  return new TlsConfigError(lines);
}

/**
 * A listener's TLS, re-readable: `current` is what new connections use; `reload()` reads
 * the files again and swaps it in, or keeps the old context and throws on failure.
 */
export class ReloadableTls {
  current: ServerTls;
  private readonly options: TlsListenerOptions;

  constructor(options: TlsListenerOptions) {
    this.options = options;
    this.current = buildServerTls(options);
  }

  reload(): void {
    this.current = buildServerTls(this.options);
  }
}
