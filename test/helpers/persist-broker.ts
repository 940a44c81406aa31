/**
 * In-process brokers with file persistence on a temporary directory, for restart tests:
 * start one, stop it (saving), or copy its files while it runs (what kill -9 would leave)
 * and start another on the copy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { Log, LOG_ALL, LogType } from '../../src/broker/log.js';
import { createPersistencePlugin, type PersistenceConfig, type PersistencePlugin } from '../../src/broker/persistence/plugin.js';
import { RawClient, type ConnectOptions } from './raw-client.js';

export interface PersistentBroker {
  broker: Broker;
  plugin: PersistencePlugin;
  port: number;
  dir: string;
  lines: string[];
  connect(opts: ConnectOptions): Promise<{ client: RawClient; sessionPresent: boolean }>;
}

const brokers: Broker[] = [];
const clients: RawClient[] = [];
const dirs: string[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-persist-'));
  dirs.push(dir);
  return dir;
}

/** A copy of the persistence files as they are now: what a kill -9 at this moment leaves. */
export function crashCopy(dir: string): string {
  const copy = tempDir();
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
  return copy;
}

export async function startPersistent(dir: string, config: Partial<PersistenceConfig> = {}, journalCompactBytes?: number): Promise<PersistentBroker> {
  const lines: string[] = [];
  const log = new Log(LOG_ALL & ~LogType.Debug, [{ write: (_t, line) => lines.push(line.replace(/^\d+: /, '')) }]);
  const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0 }, log);
  const plugin = createPersistencePlugin(
    { persistence: true, persistenceLocation: dir, persistenceFile: 'mosquitto.db', autosaveInterval: 1800, autosaveOnChanges: false, ...config },
    { journalCompactBytes },
  );
  broker.plugins.push(plugin);
  await broker.start();
  brokers.push(broker);
  const port = broker.port();
  return {
    broker,
    plugin,
    port,
    dir,
    lines,
    async connect(opts) {
      const { client, connack } = await RawClient.connect(port, opts);
      clients.push(client);
      if ((connack.returnCode ?? connack.reasonCode) !== 0) throw new Error('CONNACK refused');
      return { client, sessionPresent: connack.sessionPresent };
    },
  };
}

export async function stopBroker(b: PersistentBroker): Promise<void> {
  const i = brokers.indexOf(b.broker);
  if (i !== -1) brokers.splice(i, 1);
  await b.broker.close();
}

export async function cleanupPersistent(): Promise<void> {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
