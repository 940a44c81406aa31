/**
 * password_file and acl_file of one security scope (global, or one listener with
 * per_listener_settings), loaded together and reloaded together on SIGHUP.
 */
import { AclFileAuthorizer } from './acl.js';
import { PasswordFileAuthenticator, type PasswordFileOptions } from './password-file.js';
import type { AuthLog } from './types.js';

export interface SecurityFiles {
  authenticator: PasswordFileAuthenticator | undefined;
  authorizer: AclFileAuthorizer | undefined;
  /**
   * Re-read both files; one that fails keeps its old rules (and logs why). Returns the
   * usernames whose password entry went away or changed: the broker disconnects their
   * clients, as mosquitto does on SIGHUP.
   */
  reload(): ReadonlySet<string>;
}

/**
 * Load the files named in a scope. Throws SecurityFileError: log its `lines` with
 * log.error and exit with its `exitCode` (13 unreadable, 3 bad ACL line), as mosquitto.
 */
export function loadSecurityFiles(
  scope: { passwordFile: string | null; aclFile: string | null },
  log?: AuthLog,
  passwordOptions: Omit<PasswordFileOptions, 'log'> = {},
): SecurityFiles {
  const authenticator =
    scope.passwordFile !== null ? PasswordFileAuthenticator.load(scope.passwordFile, { ...passwordOptions, log }) : undefined;
  const authorizer = scope.aclFile !== null ? AclFileAuthorizer.load(scope.aclFile, { log }) : undefined;
  return {
    authenticator,
    authorizer,
    reload(): ReadonlySet<string> {
      authorizer?.reload();
      if (authenticator === undefined || !authenticator.reload()) return new Set();
      return authenticator.changedByLastReload;
    },
  };
}
