/**
 * password_file and acl_file: loaded at start-up into the broker's Authenticator and
 * Authorizer (global, or per listener with per_listener_settings), and re-read on SIGHUP.
 */
import { loadSecurityFiles, type SecurityFiles } from './auth/load.js';
import type { BrokerConfig } from './config/types.js';
import type { Log } from './log.js';
import type { BrokerOptions } from './options.js';
import type { ReloadTarget } from './signals.js';
import type { BrokerCore } from './core.js';

/** Loads the files into `options`; throws SecurityFileError (lines and exit code) for a bad one. */
export function loadSecurity(config: BrokerConfig, options: BrokerOptions, log: Log): SecurityFiles[] {
  if (!config.perListenerSettings) {
    const files = loadSecurityFiles(config.security, log);
    options.authenticator = files.authenticator;
    options.authorizer = files.authorizer;
    return [files];
  }
  const out: SecurityFiles[] = [];
  for (const l of options.listeners) {
    if (l.config === undefined) continue;
    const files = loadSecurityFiles(l.config.security, log);
    l.authenticator = files.authenticator;
    l.authorizer = files.authorizer;
    out.push(files);
  }
  return out;
}

/**
 * SIGHUP: re-read every file; a file that fails to parse keeps the old rules (and says
 * why). Connected clients whose user changed or went are disconnected, as Mosquitto does;
 * new ACL rules apply to everyone from their next message.
 */
export function securityReloadTarget(broker: BrokerCore, files: SecurityFiles[]): ReloadTarget {
  return {
    reload() {
      for (const f of files) {
        const gone = f.reload();
        if (gone.size === 0) continue;
        for (const client of [...broker.clients]) {
          if (client.active && client.username !== undefined && gone.has(client.username)) {
            broker.log.notice(`Client ${client.id} disconnected.`);
            client.disconnect('admin', 0x87);
          }
        }
      }
    },
  };
}
