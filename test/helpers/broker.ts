/**
 * An in-process Broker on an ephemeral port with every log line captured. Tests call
 * startBroker() and stopBrokers() in afterEach; lines are kept without their timestamps.
 */
import { Broker, Log, LOG_ALL } from '../../src/index.js';
import type { BrokerOptions } from '../../src/index.js';
import { RawClient } from './raw-client.js';

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

function matches(line: string, m: string | RegExp): boolean {
  return typeof m === 'string' ? line === m : m.test(line);
}

export async function startBroker(options: Partial<BrokerOptions> = {}, logMask = LOG_ALL): Promise<TestBroker> {
  const lines: string[] = [];
  const rawLines: string[] = [];
  const waiters: (() => void)[] = [];
  const log = new Log(logMask, [
    {
      write: (_type, line) => {
        rawLines.push(line);
        lines.push(line.replace(/^\d+: /, ''));
        for (const w of waiters.splice(0)) w();
      },
    },
  ]);
  const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0, ...options }, log);
  await broker.start();
  running.push(broker);
  const port = broker.port();
  const tb: TestBroker = {
    broker,
    port,
    lines,
    rawLines,
    hasLine: (m) => lines.some((l) => matches(l, m)),
    waitForLine(m, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(check);
          if (i !== -1) waiters.splice(i, 1);
          reject(new Error(`timed out waiting for log line ${String(m)}; log:\n${lines.join('\n')}`));
        }, timeoutMs);
        const check = (): void => {
          const found = lines.find((l) => matches(l, m));
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    },
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
