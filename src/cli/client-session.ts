/**
 * What pub, sub and rr share once their options are read: turning the config into dial and
 * engine options, connecting, and reporting connection failures in Mosquitto's words.
 */
import fs from 'node:fs';
import { dial, type DialError, type DialOptions } from '../net/dial.js';
import type { Connection } from '../net/connection.js';
import {
  MqttClient,
  type ClientEvents,
  type ClientOptions,
  type ConnectProperties,
  type DisconnectProperties,
} from '../client/mqtt-client.js';
import { connackString, errnoText, reasonString } from '../client/reason-strings.js';
import { usesTls, type ClientConfig } from './client-config.js';
import { parseProxyUrl } from './url-arg.js';
import { report, writeOut } from './terminal.js';

export { report };

/** TLS files are checked before connecting, as libmosquitto's mosquitto_tls_set does. */
function checkTlsFiles(cfg: ClientConfig): boolean {
  const files = [cfg.tls.cafile, cfg.tls.certfile, cfg.tls.keyfile];
  for (const f of files) {
    if (f === undefined) continue;
    try {
      fs.accessSync(f, fs.constants.R_OK);
    } catch {
      return false;
    }
  }
  if (cfg.tls.capath !== undefined) {
    try {
      if (!fs.statSync(cfg.tls.capath).isDirectory()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export function dialOptions(cfg: ClientConfig): DialOptions {
  const tls = usesTls(cfg);
  const defaultPort = cfg.websocketPath !== undefined ? (tls ? 443 : 80) : tls ? 8883 : 1883;
  const opts: DialOptions = { host: cfg.host ?? 'localhost', port: cfg.port ?? defaultPort, noDelay: cfg.noDelay };
  if (cfg.unixPath !== undefined) {
    if (cfg.port === undefined || cfg.port === 0) opts.unixPath = cfg.unixPath;
    else opts.host = cfg.unixPath;
  }
  if (cfg.bindAddress !== undefined) opts.bindAddress = cfg.bindAddress;
  if (cfg.websocketPath !== undefined) opts.websocket = { path: cfg.websocketPath };
  if (tls) {
    const t = cfg.tls;
    opts.tls = {
      insecure: t.insecure,
      // mqtts:// and wss:// without a CA of their own trust the system's CAs.
      useOsCerts: t.useOsCerts || (cfg.urlTls && t.cafile === undefined && t.capath === undefined),
    };
    if (t.cafile !== undefined) opts.tls.cafile = t.cafile;
    if (t.capath !== undefined) opts.tls.capath = t.capath;
    if (t.certfile !== undefined) opts.tls.certfile = t.certfile;
    if (t.keyfile !== undefined) opts.tls.keyfile = t.keyfile;
    if (t.ciphers !== undefined) opts.tls.ciphers = t.ciphers;
    if (t.version !== undefined) opts.tls.version = t.version;
    if (t.alpn !== undefined) opts.tls.alpn = t.alpn;
    if (cfg.psk !== undefined) opts.tls.psk = { key: cfg.psk, identity: cfg.pskIdentity ?? '' };
  }
  return opts;
}

export function clientOptions(cfg: ClientConfig): ClientOptions {
  const o: ClientOptions = {
    clientId: cfg.id ?? '',
    protocolVersion: cfg.protocolVersion,
    keepalive: cfg.keepalive,
    clean: cfg.clean,
    maxInflight: cfg.maxInflight,
  };
  if (cfg.debug) o.debug = (line) => writeOut(line + '\n');
  if (cfg.username !== undefined) {
    o.username = cfg.username;
    if (cfg.password !== undefined) o.password = Buffer.from(cfg.password, 'utf8');
  }
  if (cfg.willTopic !== undefined) {
    o.will = { topic: cfg.willTopic, payload: cfg.willPayload ?? Buffer.alloc(0), qos: cfg.willQos, retain: cfg.willRetain };
    if (cfg.props.will !== undefined) o.will.properties = cfg.props.will;
  }
  if (cfg.protocolVersion === 5) {
    const props = { ...(cfg.props.connect ?? {}) } as ConnectProperties;
    if (cfg.sessionExpiry !== undefined && cfg.sessionExpiry > 0) props.sessionExpiryInterval = cfg.sessionExpiry;
    if (Object.keys(props).length > 0) o.connectProperties = props;
  }
  return o;
}

/** The line a failed CONNACK prints: "Connection error: <reason>". */
export function connackErrorText(cfg: ClientConfig, code: number, v5Strings = false): string {
  const text = cfg.protocolVersion === 5 || v5Strings ? reasonString(code) : connackString(code);
  return `Connection error: ${text}\n`;
}

/** What libmosquitto's debug log shows for a failed handshake: OpenSSL's error queue. */
function openSslDebugLines(err: DialError): string {
  const verifyFailed = 'OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed\n';
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'Error: host name verification failed.\n' + verifyFailed;
  if (!err.code?.startsWith('ERR_SSL_')) return verifyFailed;
  // "error:0A0003FC:SSL routines:ssl3_read_bytes:reason" as OpenSSL 3 prints it: no function.
  const m = /error:([0-9A-F]{8}):([^:]*):[^:]*:([^:\n]*)/.exec(err.message);
  return m === null ? '' : `OpenSSL Error[0]: error:${m[1]}:${m[2]}::${m[3]}\n`;
}

const SOCKS_ERRORS: Record<string, [string, number]> = {
  ESOCKSPROXY: ['Proxy error.', 16],
  ESOCKSAUTH: ['Authorisation failed.', 11],
  ESOCKSCONNECT: ['The client is not currently connected.', 4],
};

/** Print a dial failure as Mosquitto does and exit 1. */
export function reportDialError(cfg: ClientConfig, err: DialError): never {
  const code = err.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    report(cfg, 'Unable to connect (Lookup error.).\n');
  } else if (code !== undefined && SOCKS_ERRORS[code] !== undefined) {
    // libmosquitto's words and error numbers for a proxy that says no.
    const [text, exitCode] = SOCKS_ERRORS[code];
    report(cfg, `Error: ${text}\n`);
    process.exit(exitCode);
  } else if (isTlsError(err)) {
    if (cfg.debug) writeOut(openSslDebugLines(err));
    report(cfg, 'Unable to connect (A TLS error occurred.).\n');
  } else {
    report(cfg, `Error: ${errnoText(code, err.message)}\n`);
  }
  process.exit(1);
}

/** Certificate and handshake failures from node:tls (OpenSSL's errors in libmosquitto). */
export function isTlsError(err: Error | undefined): boolean {
  const code = (err as DialError | undefined)?.code;
  if (code === undefined) return false;
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/**
 * A TLS alert after the handshake, such as a server requiring a client certificate under
 * TLS 1.3; the reset that follows the alert can win the race, so before any CONNACK on a
 * TLS connection a reset counts too. libmosquitto reports these as "Protocol error".
 */
export function isTlsAlert(cfg: ClientConfig, err: Error | undefined, connacked: boolean): boolean {
  const code = (err as DialError | undefined)?.code;
  if (code === undefined || !usesTls(cfg)) return false;
  return code.startsWith('ERR_SSL_') || (!connacked && code === 'ECONNRESET');
}

/** MQTT_RC_TIMED_OUT-like exit code Mosquitto's clients use for -W. */
export const EXIT_TIMEOUT = 27;

/** -W ran out: Mosquitto's line, and its exit status. */
export function exitTimedOut(cfg: ClientConfig): never {
  report(cfg, 'Timed out\n');
  process.exit(EXIT_TIMEOUT);
}

/** The connection is gone for good: exit as -W's timeout or the session's `exitCode` says. */
export function exitClosed(cfg: ClientConfig, timedOut: boolean, exitCode: number): never {
  if (timedOut) exitTimedOut(cfg);
  process.exit(exitCode);
}

/**
 * -W, SIGINT and SIGTERM as sub and rr handle them, then the first connection: when -W
 * runs out `timedOut()` is told and the client disconnects (or the program exits with
 * EXIT_TIMEOUT if it is not connected); a signal exits 0 when not connected, else `stop()`
 * ends the session.
 */
export function runUntilDone(
  cfg: ClientConfig,
  session: SessionStart,
  disconnectProps: DisconnectProperties | undefined,
  on: { timedOut(): void; stop(): void },
): void {
  if (cfg.timeout > 0) {
    setTimeout(() => {
      on.timedOut();
      if (session.client.connected) session.client.disconnect(0, disconnectProps);
      else exitTimedOut(cfg);
    }, cfg.timeout * 1000);
  }
  const onSignal = (): void => {
    if (!session.client.connected) process.exit(0);
    on.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  session.connect((err) => reportDialError(cfg, err));
}

export interface SessionStart {
  client: MqttClient;
  /** Open a (new) connection for this client; calls back with the dial failure if any. */
  connect(onError: (err: DialError) => void): void;
}

/** Create the engine and a connect function that dials and starts the session. */
export function createSession(cfg: ClientConfig, events: ClientEvents): SessionStart {
  if (cfg.tls.version !== undefined && !['tlsv1.3', 'tlsv1.2', 'tlsv1.1'].includes(cfg.tls.version)) {
    report(cfg, 'Error: Problem setting TLS options, check the options are valid.\n');
    process.exit(1);
  }
  if (usesTls(cfg) && !checkTlsFiles(cfg)) {
    report(cfg, 'Error: Problem setting TLS options: File not found.\n');
    process.exit(1);
  }
  if (cfg.tls.engine !== undefined) {
    // OpenSSL engines are not available to node:tls.
    report(cfg, `Error: Problem setting TLS engine, is ${cfg.tls.engine} a valid engine?\n`);
    process.exit(1);
  }
  if (cfg.props.connect !== undefined && cfg.protocolVersion !== 5) {
    report(cfg, 'Unable to connect (This feature is not supported.).\n');
    process.exit(1);
  }
  const dopts = dialOptions(cfg);
  if (cfg.proxy !== undefined) {
    const proxy = parseProxyUrl(cfg.proxy);
    if (proxy === undefined) {
      report(cfg, 'Error: Invalid proxy URL.\n');
      process.exit(1);
    }
    dopts.proxy = proxy;
  }
  const client = new MqttClient(clientOptions(cfg), events);
  return {
    client,
    connect(onError) {
      dial(dopts, (err, conn?: Connection) => {
        if (err !== undefined || conn === undefined) return onError(err ?? new Error('connect failed'));
        client.start(conn);
      });
    },
  };
}
