/**
 * What pub, sub and rr share once their options are read: turning the config into dial and
 * engine options, connecting, and reporting connection failures in Mosquitto's words.
 */
import fs from 'node:fs';
import { dial, type DialError, type DialOptions } from '../net/dial.js';
import type { Connection } from '../net/connection.js';
import { MqttClient, type ClientEvents, type ClientOptions, type ConnectProperties } from '../client/mqtt-client.js';
import { connackString, errnoText, reasonString } from '../client/reason-strings.js';
import { usesTls, type ClientConfig } from './client-config.js';
import { parseProxyUrl } from './url-arg.js';
import { errorLine, writeErr, writeOut } from './terminal.js';

/** Print an error line unless --quiet. */
export function report(cfg: ClientConfig, text: string): void {
  if (!cfg.quiet) writeErr(errorLine(text));
}

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
  if (cfg.unixPath !== undefined) opts.unixPath = cfg.unixPath;
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

/** Print a dial failure as Mosquitto does and exit 1. */
export function reportDialError(cfg: ClientConfig, err: DialError): never {
  const code = err.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    report(cfg, 'Unable to connect (Lookup error.).\n');
  } else if (err.name === 'TlsSetupError') {
    report(cfg, `Error: Problem setting TLS options: ${err.message}\n`);
  } else {
    report(cfg, `Error: ${errnoText(code, err.message)}\n`);
  }
  process.exit(1);
}

export interface SessionStart {
  client: MqttClient;
  /** Open a (new) connection for this client; calls back with the dial failure if any. */
  connect(onError: (err: DialError) => void): void;
}

/** Create the engine and a connect function that dials and starts the session. */
export function createSession(cfg: ClientConfig, events: ClientEvents): SessionStart {
  if (usesTls(cfg) && !checkTlsFiles(cfg)) {
    report(cfg, 'Error: Problem setting TLS options: File not found.\n');
    process.exit(1);
  }
  if (cfg.tls.engine !== undefined || cfg.tls.keyform === 'engine') {
    report(cfg, 'Error: Problem setting TLS engine, is your version of OpenSSL up to date?\n');
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
