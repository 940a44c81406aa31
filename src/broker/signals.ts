/**
 * Signals as mosquitto(8) documents them: SIGINT/SIGTERM shut down cleanly (exit 0),
 * SIGHUP reloads what can be reloaded, SIGUSR1 saves persistent state now.
 */
import { unlinkSync } from 'node:fs';
import { reloadFromFile } from './reload.js';
import { VERSION } from './version.js';
import type { BrokerConfig } from './config/types.js';
import type { BrokerCore } from './core.js';

/** Things that want to hear about SIGHUP / SIGUSR1 (security files, persistence, TLS). */
export interface ReloadTarget {
  reload?(config: BrokerConfig | null): void;
  save?(): void;
}

export function installSignals(broker: BrokerCore, config: BrokerConfig, configFile: string | null, targets: ReloadTarget[] = []): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const first = broker.plugins.map((p) => p.onTerminate?.());
    Promise.all(first).then(terminate, terminate);
  };
  const terminate = (): void => {
    broker.log.notice(`mosquitto version ${VERSION} terminating`);
    broker.close().then(
      () => {
        if (config.pidFile !== null && config.daemon) {
          try {
            unlinkSync(config.pidFile);
          } catch {
            // already gone
          }
        }
        process.exit(0);
      },
      () => process.exit(0),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    broker.log.notice('Reloading config.');
    // null when started without -c or when the file no longer parses (logged, nothing changes).
    const fresh = reloadFromFile(broker, config);
    for (const t of targets) t.reload?.(fresh ?? (configFile === null ? null : config));
  });
  process.on('SIGUSR1', () => {
    for (const t of targets) t.save?.();
  });
}
