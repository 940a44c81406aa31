/**
 * After a broker started as root has dropped to its `user`: every file that SIGHUP reads
 * again (password_file, acl_file, psk_file, and each TLS listener's certificates, key,
 * CRL and DH parameters) must be readable by that user, or the reload fails later with
 * the old rules kept. Warn now, one line per file, naming the file and the user.
 */
import fs from 'node:fs';
import type { BrokerConfig, SecurityOptions } from './config/types.js';
import type { Log } from './log.js';

/** [option name, path] of every file a reload re-reads, each path once. */
export function reloadedFiles(config: BrokerConfig): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  const add = (option: string, file: string | null): void => {
    if (file === null || seen.has(file)) return;
    seen.add(file);
    out.push([option, file]);
  };
  const security = (s: SecurityOptions): void => {
    add('password_file', s.passwordFile);
    add('acl_file', s.aclFile);
    add('psk_file', s.pskFile);
  };
  security(config.security);
  for (const l of config.listeners) {
    security(l.security);
    add('cafile', l.cafile);
    add('capath', l.capath);
    add('certfile', l.certfile);
    add('keyfile', l.keyfile);
    add('crlfile', l.crlfile);
    add('dhparamfile', l.dhparamfile);
  }
  return out;
}

/**
 * Checks with access(2), which after setuid() asks for the user the broker now runs as.
 * A capath directory must also be searchable. A missing file is not warned about here
 * (start-up has already said what it could not open).
 */
export function warnUnreadableReloadFiles(config: BrokerConfig, user: string, log: Log): void {
  for (const [option, file] of reloadedFiles(config)) {
    const mode = option === 'capath' ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.R_OK;
    try {
      fs.accessSync(file, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      log.warning(`Warning: ${option} "${file}" is not readable by user ${user}: a reload (SIGHUP) will fail to read it again.`);
    }
  }
}
