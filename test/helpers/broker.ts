/**
 * An in-process Broker on an ephemeral port with every log line captured. Tests call
 * startBroker() and stopBrokers() in afterEach; lines are kept without their timestamps.
 */
import { Broker, Log, LOG_ALL } from '../../src/index.js';
import type { BrokerOptions } from '../../src/index.js';
import { RawClient } from './raw-client.js';
import { LogLines } from './log-lines.js';

export interface TestBroker {
  broker: Broker;
  port: number;
  /** Log lines with the `TIMESTAMP: ` prefix removed. */
  lines: string[];
  /** Lines as written, with the timestamp. */
  rawLines: string[];
  /** Waits until a line matches (string: exact line; RegExp: test). */
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  hasLine(match: string | RegExp): boolean;
  /** A raw client that has sent CONNECT and got CONNACK. */
  connect(opts?: Parameters<typeof RawClient.connect>[1]): Promise<RawClient>;
}

const running: Broker[] = [];
const clients: RawClient[] = [];

export async function startBroker(options: Partial<BrokerOptions> = {}, logMask = LOG_ALL): Promise<TestBroker> {
  const log = new LogLines();
  const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0, ...options }, new Log(logMask, [log.sink]));
  await broker.start();
  running.push(broker);
  const port = broker.port();
  const tb: TestBroker = {
    broker,
    port,
    lines: log.lines,
    rawLines: log.rawLines,
    hasLine: (m) => log.has(m),
    waitForLine: (m, timeoutMs = 3000) => log.waitFor(m, timeoutMs),
    async connect(opts = {}) {
      const { client, connack } = await RawClient.connect(port, opts);
      clients.push(client);
      if (connack.returnCode !== 0 && connack.reasonCode !== 0) {
        throw new Error(`CONNACK refused: ${connack.returnCode ?? connack.reasonCode}`);
      }
      return client;
    },
  };
  return tb;
}

/** Opens a raw TCP connection to the broker that stopBrokers() will clean up. */
export async function openRaw(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  clients.push(c);
  return c;
}

export async function stopBrokers(): Promise<void> {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(running.splice(0).map((b) => b.close()));
}
