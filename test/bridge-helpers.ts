/**
 * Brokers for the bridge tests: in-process ts-mosquitto Brokers on loopback ports, one of
 * them with bridges parsed from mosquitto.conf text, every log line captured. stopAll() in
 * afterEach closes them all.
 */
import { Broker, Log, LOG_ALL } from '../src/index.js';
import type { BrokerOptions } from '../src/index.js';
import { parseConfigText } from '../src/broker/config/index.js';
import { createBridgePlugin, type BridgePlugin } from '../src/broker/bridge/plugin.js';
import { RawClient } from './helpers/raw-client.js';
import { LogLines } from './helpers/log-lines.js';
import { freePort } from './helpers/mosquitto.js';
import type { IPublishPacket } from 'mqtt-packet';

/** The host name the bridge tests parse with: remote client ids are "testhost.<name>". */
export const HOST = 'testhost';

export interface RunningBroker {
  broker: Broker;
  port: number;
  lines: string[];
  plugin: BridgePlugin | undefined;
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Waits until `count` lines match. */
  waitForLines(match: string | RegExp, count: number, timeoutMs?: number): Promise<void>;
  count(match: string | RegExp): number;
  close(): Promise<void>;
}

const running: RunningBroker[] = [];
const clients: RawClient[] = [];

/**
 * Starts a Broker on `port` (0: any free port) with the bridges of `bridgeConf` (lines of
 * mosquitto.conf from `connection` on), logging every type.
 */
export async function startBroker(opts: { port?: number; bridgeConf?: string[]; options?: Partial<BrokerOptions> } = {}): Promise<RunningBroker> {
  const log = new LogLines();
  const broker = new Broker({ listeners: [{ port: opts.port ?? 0, host: '127.0.0.1' }], sysInterval: 0, ...opts.options }, new Log(LOG_ALL, [log.sink]));
  let plugin: BridgePlugin | undefined;
  if (opts.bridgeConf !== undefined) {
    const { config } = parseConfigText(opts.bridgeConf.join('\n') + '\n', 'bridge.conf', { hostname: HOST });
    plugin = createBridgePlugin(config.bridges);
    broker.plugins.push(plugin);
  }
  await broker.start();
  const rb: RunningBroker = {
    broker,
    port: broker.port(),
    lines: log.lines,
    plugin,
    count: (m) => log.count(m),
    waitForLine: (m, timeoutMs = 5000) => log.waitFor(m, timeoutMs),
    waitForLines: async (m, n, timeoutMs = 5000) => {
      await log.waitFor(m, timeoutMs, n);
    },
    async close() {
      const i = running.indexOf(rb);
      if (i !== -1) running.splice(i, 1);
      await broker.close();
    },
  };
  running.push(rb);
  return rb;
}

export async function stopAll(): Promise<void> {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(running.splice(0).map((b) => b.broker.close()));
}

export { freePort };

/** A raw client subscribed to `filters`; closed by stopAll(). */
export async function subscriber(port: number, filters: string[], qos: 0 | 1 | 2 = 1, version: 4 | 5 = 4): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { clientId: `sub-${Math.random().toString(36).slice(2, 8)}`, version });
  clients.push(client);
  await client.subscribe(filters.map((topic) => ({ topic, qos })));
  return client;
}

export async function publisher(port: number, version: 4 | 5 = 4): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { clientId: `pub-${Math.random().toString(36).slice(2, 8)}`, version });
  clients.push(client);
  return client;
}

export function track(c: RawClient): RawClient {
  clients.push(c);
  return c;
}

/** Publishes and waits for the broker to have handled it (PUBACK for QoS 1, a ping round trip for QoS 0). */
export async function publishAndWait(c: RawClient, topic: string, payload: string, opts: { qos?: 0 | 1; retain?: boolean; messageId?: number } = {}): Promise<void> {
  const qos = opts.qos ?? 0;
  const messageId = opts.messageId ?? Math.floor(Math.random() * 60000) + 1;
  c.publish(topic, payload, { qos, retain: opts.retain ?? false, messageId });
  if (qos === 1) await c.waitFor((p) => p.cmd === 'puback' && p.messageId === messageId, 3000, 'puback');
  else await c.sync();
}

/** The next PUBLISH on `topic`, acknowledged if QoS 1. */
export async function nextOn(c: RawClient, topic: string, timeoutMs = 5000): Promise<IPublishPacket> {
  const p = await c.waitFor<IPublishPacket>((x) => x.cmd === 'publish' && x.topic === topic, timeoutMs, `PUBLISH on ${topic}`);
  if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
  return p;
}

/** Every PUBLISH that arrives on `topic` within `ms`. */
export async function collect(c: RawClient, topic: string, ms: number): Promise<IPublishPacket[]> {
  await new Promise((r) => setTimeout(r, ms));
  const got: IPublishPacket[] = [];
  for (let i = c.inbox.length - 1; i >= 0; i--) {
    const p = c.inbox[i];
    if (p.cmd === 'publish' && p.topic === topic) {
      got.unshift(p as IPublishPacket);
      c.inbox.splice(i, 1);
      if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
    }
  }
  return got;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
