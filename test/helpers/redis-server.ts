/**
 * A real redis-server for the Redis integration tests (issue 7): started on a free
 * loopback port without persistence, stopped and restarted on the same port for the
 * outage tests, killed by its pid. An in-process Broker with the Redis plugin, its log
 * lines captured, and polling helpers for state that Redis receives asynchronously.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterEach, beforeEach } from 'vitest';
import { Broker, Log, LOG_ALL } from '../../src/index.js';
import type { BrokerOptions } from '../../src/index.js';
import { createRedisConfig } from '../../src/broker/config/defaults.js';
import type { RedisConfig } from '../../src/broker/config/types.js';
import { createRedisPlugin, type RedisPlugin, type RedisPluginOptions } from '../../src/broker/redis/index.js';
import { freePort, haveProgram } from './mosquitto.js';
import { RawClient, type ConnectOptions } from './raw-client.js';
import { LogLines } from './log-lines.js';

export const REDIS_SERVER = 'redis-server';

/** Skip only when redis-server is absent and CI is not 'true' (absent under CI throws). */
export function haveRedis(): boolean {
  return haveProgram(REDIS_SERVER);
}

/**
 * A redis-server on loopback `port` without persistence (and `extraArgs`): its process at
 * once (for the caller to kill by pid), and `ready` once it accepts connections (rejected
 * with its output if it exits first).
 */
export function spawnRedisServer(port: number, extraArgs: string[] = []): { proc: ChildProcess; ready: Promise<void> } {
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return { proc, ready };
}

export class RedisServer {
  proc: ChildProcess | undefined;
  private readonly clients: Redis[] = [];

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  /** `extraArgs` are further redis-server options, e.g. ['--requirepass', 'secret']. */
  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), extraArgs);
    await s.run();
    return s;
  }

  /** Starts (again) on the same port and waits until it accepts connections. */
  async run(): Promise<void> {
    const { proc, ready } = spawnRedisServer(this.port, this.extraArgs);
    this.proc = proc;
    await ready;
  }

  /** Kills the server by its pid and waits for it to be gone. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  }

  /** The broker's configuration line. */
  conf(): string[] {
    return [`redis_port ${this.port}`];
  }

  /** Sends `signal` to the server by its pid (SIGSTOP: it answers nothing; SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    if (this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  /** CONFIG SET on the server (as RedisClusterServer.configSet does on every node). */
  async configSet(name: string, value: string): Promise<void> {
    const c = new Redis({ port: this.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    try {
      await c.config('SET', name, value);
    } finally {
      c.disconnect();
    }
  }

  /** A plain client for the test's own reads and writes. */
  client(db = 0, password?: string): Redis {
    const c = new Redis({ port: this.port, host: '127.0.0.1', db, password, lazyConnect: false, maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    await this.stop();
  }
}

export interface RedisBroker {
  broker: Broker;
  plugin: RedisPlugin;
  port: number;
  lines: string[];
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  connect(opts?: ConnectOptions): Promise<RawClient>;
  close(): Promise<void>;
}

export function redisConfig(port: number, over: Partial<RedisConfig> = {}): RedisConfig {
  return { ...createRedisConfig(), enabled: true, port, ...over };
}

/** An in-process broker on an ephemeral port with the Redis plugin. */
export async function startRedisBroker(
  config: RedisConfig,
  opts: RedisPluginOptions = {},
  options: Partial<BrokerOptions> = {},
): Promise<RedisBroker> {
  const log = new LogLines();
  const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0, ...options }, new Log(LOG_ALL, [log.sink]));
  const plugin = createRedisPlugin(config, { nodeName: 'test-node', readTimeoutMs: 500, startTimeoutMs: 2000, maxBackoffMs: 200, ...opts });
  broker.plugins.push(plugin);
  await broker.start();
  const clients: RawClient[] = [];
  return {
    broker,
    plugin,
    port: broker.port(),
    lines: log.lines,
    waitForLine: (m, timeoutMs = 5000) => log.waitFor(m, timeoutMs),
    async connect(o = {}) {
      const { client, connack } = await RawClient.connect(broker.port(), o);
      clients.push(client);
      if ((connack.returnCode ?? connack.reasonCode ?? 0) !== 0) throw new Error('CONNACK refused');
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await broker.close();
    },
  };
}

export interface RedisFixture {
  /** The redis-server of the running test. */
  readonly server: RedisServer;
  /** A broker on it: `defaults`, then `over`, as its Redis configuration; closed after the test. */
  broker(over?: Partial<RedisConfig>, opts?: RedisPluginOptions): Promise<RedisBroker>;
}

/**
 * For a describe block: a fresh redis-server before each test (started with `serverArgs`)
 * and brokers on it, all stopped after each test (a paused server is resumed first).
 */
export function redisPerTest(defaults: Partial<RedisConfig> = {}, serverArgs: string[] = []): RedisFixture {
  let server: RedisServer | undefined;
  const brokers: RedisBroker[] = [];
  beforeEach(async () => {
    server = await RedisServer.start(serverArgs);
  });
  afterEach(async () => {
    if (server?.proc !== undefined) server.proc.kill('SIGCONT');
    for (const b of brokers.splice(0)) await b.close();
    await server?.close();
  });
  const current = (): RedisServer => {
    if (server === undefined) throw new Error('redisPerTest: no test is running');
    return server;
  };
  return {
    get server(): RedisServer {
      return current();
    },
    // A plain function (no `this`): tests pass it around as `broker`.
    broker: async (over = {}, opts = {}) => {
      const b = await startRedisBroker(redisConfig(current().port, { ...defaults, ...over }), opts);
      // A test may close one itself (a restart); the one after the test is then a no-op.
      const close = b.close;
      let closing: Promise<void> | undefined;
      b.close = () => (closing ??= close());
      brokers.push(b);
      return b;
    },
  };
}

/** Polls until `probe` returns a value that `ok` accepts; the last value is returned either way. */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    v = await probe();
  }
  return v;
}
