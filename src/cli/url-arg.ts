/**
 * URL-valued options: -L mqtt(s)://[user[:password]@]host[:port]/topic (ws:// and wss://
 * too, for MQTT over WebSocket) and --proxy socks5h://[user[:password]@]host[:port].
 */
import { atoi } from './c-numbers.js';
import { addTopic, ConfigError, type ClientConfig } from './client-config.js';
import type { Socks5Proxy } from '../net/socks5.js';

const SCHEMES: Record<string, { port: number; tls: boolean; ws: boolean }> = {
  'mqtt://': { port: 1883, tls: false, ws: false },
  'mqtts://': { port: 8883, tls: true, ws: false },
  'ws://': { port: 80, tls: false, ws: true },
  'wss://': { port: 443, tls: true, ws: true },
};

interface Authority {
  username?: string;
  password?: string;
  host: string;
  port?: number;
}

function splitAuthority(s: string): Authority {
  const out: Authority = { host: s };
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    const cred = s.slice(0, at);
    out.host = s.slice(at + 1);
    const colon = cred.indexOf(':');
    if (colon >= 0) {
      out.username = decodeURIComponent(cred.slice(0, colon));
      out.password = decodeURIComponent(cred.slice(colon + 1));
    } else {
      out.username = decodeURIComponent(cred);
    }
  }
  // [v6]:port or host:port
  const m = /^\[([^\]]*)\](?::(.*))?$/.exec(out.host);
  if (m !== null) {
    out.host = m[1];
    if (m[2] !== undefined) out.port = atoi(m[2]);
  } else {
    const colon = out.host.lastIndexOf(':');
    if (colon >= 0) {
      out.port = atoi(out.host.slice(colon + 1));
      out.host = out.host.slice(0, colon);
    }
  }
  return out;
}

export function parseUrlArg(cfg: ClientConfig, url: string): void {
  const scheme = Object.keys(SCHEMES).find((s) => url.startsWith(s));
  if (scheme === undefined) throw new ConfigError('Error: unsupported URL scheme.\n\n');
  const info = SCHEMES[scheme];
  const rest = url.slice(scheme.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw new ConfigError('Error: Invalid URL for -L argument specified - topic missing.\n');
  const auth = splitAuthority(rest.slice(0, slash));
  let topic = rest.slice(slash + 1);
  cfg.host = auth.host;
  cfg.port = auth.port ?? info.port;
  if (auth.username !== undefined) cfg.username = auth.username;
  if (auth.password !== undefined) cfg.password = auth.password;
  cfg.urlTls = info.tls;
  if (info.ws) {
    // ws://host/path/topic is ambiguous; the WebSocket path is /mqtt, as brokers serve it.
    cfg.websocketPath = '/mqtt';
  }
  topic = decodeURIComponent(topic);
  if (cfg.kind === 'sub' && topic === '') return;
  if (topic === '') {
    cfg.topic = '';
    return;
  }
  addTopic(cfg, topic);
}

/** --proxy: only socks5h:// is understood, with optional credentials; port 1080 by default. */
export function parseProxyUrl(url: string): Socks5Proxy | undefined {
  const prefix = 'socks5h://';
  if (!url.startsWith(prefix)) return undefined;
  const auth = splitAuthority(url.slice(prefix.length).replace(/\/.*$/, ''));
  if (auth.host === '') return undefined;
  const proxy: Socks5Proxy = { host: auth.host, port: auth.port ?? 1080 };
  if (auth.username !== undefined) proxy.username = auth.username;
  if (auth.password !== undefined) proxy.password = auth.password;
  return proxy;
}
