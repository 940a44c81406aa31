/**
 * ts-mosquitto: the broker program. `ts-mosquitto [-c config_file] [-d] [-h] [-p port] [-v]`
 * with Mosquitto 2.0's meaning, start-up lines and exit codes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Broker, VERSION } from '../broker/broker.js';
import { startupFromArgs } from './broker-startup.js';
import { LOCAL_ONLY_MESSAGES } from '../broker/config/finalize.js';
import { logFromConfig, optionsFromConfig } from '../broker/from-config.js';
import { installSignals } from '../broker/signals.js';
import { dropPrivileges } from '../broker/privileges.js';
import { warnUnreadableReloadFiles } from '../broker/reload-readable.js';
import { tlsReloadTarget } from '../broker/listeners.js';
import { createPersistencePlugin } from '../broker/persistence/plugin.js';
import { createRedisPlugin } from '../broker/redis/index.js';
import { clusterNodeName, createClusterPlugin } from '../broker/cluster/index.js';
import { createBridgePlugin } from '../broker/bridge/plugin.js';
import { createObservePlugin, serveDashboardOnWebsockets, takeHttpListeners } from '../broker/observe/plugin.js';
import { loadSecurity, securityReloadTarget } from '../broker/security-files.js';
import { SecurityFileError } from '../broker/auth/types.js';
import type { SecurityFiles } from '../broker/auth/load.js';

const stamp = (): string => String(Math.floor(Date.now() / 1000));

/** Mosquitto's -d: the broker carries on in a detached child, the parent returns at once. */
function daemonize(argv: string[]): boolean {
  if (process.env.TS_MOSQUITTO_DAEMONIZED === '1') return false;
  const child = spawn(process.execPath, [argv[1], ...argv.slice(2)], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, TS_MOSQUITTO_DAEMONIZED: '1' },
  });
  child.unref();
  return true;
}

export function main(argv: string[]): void {
  const startup = startupFromArgs(argv.slice(2), { program: 'ts-mosquitto', version: VERSION });
  if (!startup.ok) {
    if (startup.stdout !== null) process.stdout.write(startup.stdout);
    for (const l of startup.stderr) process.stderr.write(l.logged ? `${stamp()}: ${l.text}\n` : `${l.text}\n`);
    process.exit(startup.exitCode);
  }
  // Mosquitto prints configuration warnings on stderr at once, whatever log_dest says.
  for (const m of startup.messages) process.stderr.write(`${stamp()}: ${m.text}\n`);
  const { config, args } = startup;
  if (args.daemon && daemonize(argv)) process.exit(0);

  const log = logFromConfig(config);
  log.notice(`mosquitto version ${VERSION} starting`);
  if (args.configFile !== null) log.notice(`Config loaded from ${args.configFile}.`);
  else log.notice('Using default config.');
  if (config.localOnly) for (const line of LOCAL_ONLY_MESSAGES) log.notice(line);

  const options = optionsFromConfig(config);
  let security: SecurityFiles[];
  try {
    security = loadSecurity(config, options, log);
  } catch (e) {
    if (!(e instanceof SecurityFileError)) throw e;
    for (const line of e.lines) log.error(line);
    process.exit(e.exitCode);
  }
  const httpListeners = takeHttpListeners(options);
  const broker = new Broker(options, log);
  // persistence true: sessions and retained messages survive restarts and kill -9.
  const persistence = createPersistencePlugin(config);
  if (config.persistence) broker.plugins.push(persistence);
  // Redis: presence, subscription store, retained and offline-message stores, hooks.
  // cluster true: this node's name is also its Redis presence node (mqtt:node:<name>).
  const clusterName = config.cluster.enabled ? clusterNodeName(config.cluster, options.listeners[0]?.port) : undefined;
  const redis = config.redis.enabled ? createRedisPlugin(config.redis, { nodeName: clusterName }) : undefined;
  if (redis !== undefined) broker.plugins.push(redis);
  // Scale-out (issue 15): after the Redis plugin, whose retained messages it relies on.
  const cluster = clusterName !== undefined ? createClusterPlugin(config.redis, config.cluster, clusterName) : undefined;
  if (cluster !== undefined) broker.plugins.push(cluster);
  // Bridges (connection sections) start with the broker, after the stores have loaded.
  if (config.bridges.length > 0) broker.plugins.push(createBridgePlugin(config.bridges));
  // protocol http listeners: /metrics, /healthz and the dashboard (observe/), off unless configured.
  const observe = httpListeners.length > 0 ? createObservePlugin(httpListeners, { persistence: config.persistence ? persistence : undefined, redis, cluster }) : undefined;
  if (observe !== undefined) {
    broker.plugins.push(observe);
    serveDashboardOnWebsockets(broker.options, observe);
  }
  if (config.pidFile !== null && config.daemon) {
    try {
      fs.writeFileSync(config.pidFile, `${process.pid}\n`);
    } catch {
      log.error(`Error: Unable to write pid file.`);
      process.exit(1);
    }
  }
  installSignals(broker, config, args.configFile, [
    securityReloadTarget(broker, security),
    tlsReloadTarget(broker),
    persistence,
    ...(observe !== undefined ? [observe] : []),
  ]);
  broker.start().then(
    () => {
      // As Mosquitto: listeners open (privileged ports too), then privileges go.
      const wasRoot = process.geteuid?.() === 0;
      if (!dropPrivileges(config.user, log)) process.exit(1);
      if (wasRoot && process.geteuid?.() !== 0) warnUnreadableReloadFiles(config, os.userInfo().username, log);
      log.notice(`mosquitto version ${VERSION} running`);
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') log.error('Error: Address already in use');
      else if (err.code === 'EACCES') log.error('Error: Permission denied');
      else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') log.error('Error creating listener: Name or service not known.');
      else if (err.code === 'EADDRNOTAVAIL') log.error('Error creating listener: Cannot assign requested address.');
      else log.error(`Error: ${err.message}`);
      process.exit(1);
    },
  );
}
