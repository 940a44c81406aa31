/**
 * An in-process broker with the observe plugin (metrics, health, dashboard) on an http
 * listener of its own, plus a small HTTP(S) GET for the tests. Everything binds 127.0.0.1
 * on ephemeral ports; stopObserved() closes what startObserved() opened.
 */
import http from 'node:http';
import https from 'node:https';
import { Broker, Log } from '../../src/index.js';
import type { BrokerOptions, ListenerSettings } from '../../src/index.js';
import { createListener, createSecurityOptions } from '../../src/broker/config/defaults.js';
import { createObservePlugin, type ObservePlugin } from '../../src/broker/observe/plugin.js';
import type { ObserveSources } from '../../src/broker/observe/view.js';
import type { ListenerConfig } from '../../src/broker/config/types.js';

export interface Observed {
  broker: Broker;
  observe: ObservePlugin;
  mqttPort: number;
  wsPort: number;
  httpPort: number;
}

const running: Broker[] = [];

export function httpListenerConfig(tweak: (l: ListenerConfig) => void = () => {}): ListenerSettings {
  const l = createListener(0, '127.0.0.1', createSecurityOptions());
  l.protocol = 'http';
  tweak(l);
  return { port: 0, host: '127.0.0.1', protocol: 'http', config: l };
}

export async function startObserved(
  options: Partial<BrokerOptions> = {},
  http: ListenerSettings = httpListenerConfig(),
  sources: ObserveSources = {},
): Promise<Observed> {
  const ws = createListener(0, '127.0.0.1', createSecurityOptions());
  ws.protocol = 'websockets';
  const broker = new Broker(
    {
      listeners: [
        { port: 0, host: '127.0.0.1' },
        { port: 0, host: '127.0.0.1', protocol: 'websockets', config: ws },
      ],
      sysInterval: 0,
      ...options,
    },
    new Log(0, []),
  );
  const observe = createObservePlugin([http], sources);
  broker.plugins.push(observe);
  await broker.start();
  running.push(broker);
  return { broker, observe, mqttPort: broker.port(0), wsPort: broker.port(1), httpPort: observe.ports()[0] };
}

export async function stopObserved(): Promise<void> {
  await Promise.all(running.splice(0).map((b) => b.close()));
}

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function get(port: number, path: string, opts: { user?: string; password?: string; ca?: Buffer; tls?: boolean } = {}): Promise<Got> {
  const headers: http.OutgoingHttpHeaders = {};
  if (opts.user !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64');
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    };
    const req = opts.tls === true
      ? https.get({ host: '127.0.0.1', port, path, headers, ca: opts.ca, servername: 'localhost', agent: false }, done)
      : http.get({ host: '127.0.0.1', port, path, headers, agent: false }, done);
    req.on('error', reject);
  });
}

/** The value of one sample line (`name{labels} value`) in a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]] = kv[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}
