/**
 * The authentication and authorization seams, and the programmatic hook.
 *
 * The interfaces themselves live in ../security.ts, where the broker core consumes them;
 * they are re-exported here so that everything under auth/ (password file, ACL file, hook)
 * is written against one definition:
 *
 * - Authenticator.authenticate(credentials) -> Promise<boolean> | boolean, once per CONNECT.
 * - Authorizer.canWrite / canRead / canSubscribe -> boolean, synchronous: they run per
 *   message, so implementations precompute what they can and never wait on I/O.
 */
import type { Authenticator, Authorizer, ConnectCredentials } from '../security.js';

export type { Authenticator, Authorizer, ConnectCredentials } from '../security.js';

/** Where auth/ writes its diagnostics; the broker's Log fits this shape. */
export interface AuthLog {
  error(message: string): void;
  warning(message: string): void;
}

/** A load or reload that failed: the lines to log (Mosquitto's words) and Mosquitto's exit code. */
export class SecurityFileError extends Error {
  constructor(
    readonly lines: string[],
    /** What mosquitto exits with at start-up: 13 when the file cannot be opened, 3 when it does not parse. */
    readonly exitCode: number,
  ) {
    super(lines.join(' '));
    this.name = 'SecurityFileError';
  }
}

/** Functions an embedding program supplies; a missing one allows. */
export interface AuthHooks {
  authenticate?(credentials: ConnectCredentials): Promise<boolean> | boolean;
  canWrite?(clientId: string, username: string | undefined, topic: string): boolean;
  canRead?(clientId: string, username: string | undefined, topic: string): boolean;
  canSubscribe?(clientId: string, username: string | undefined, filter: string): boolean;
}

/**
 * The programmatic hook: `new Broker({ ...options, ...hookAuth({ authenticate, canRead }) })`.
 * Only the parts with a function are returned, so the broker's defaults apply to the rest.
 * A hook that throws denies.
 */
export function hookAuth(hooks: AuthHooks): { authenticator?: Authenticator; authorizer?: Authorizer } {
  const out: { authenticator?: Authenticator; authorizer?: Authorizer } = {};
  const authenticate = hooks.authenticate;
  if (authenticate !== undefined) {
    out.authenticator = {
      authenticate(credentials: ConnectCredentials): Promise<boolean> {
        try {
          return Promise.resolve(authenticate(credentials)).then(
            (ok) => ok === true,
            () => false,
          );
        } catch {
          return Promise.resolve(false);
        }
      },
    };
  }
  if (hooks.canWrite !== undefined || hooks.canRead !== undefined || hooks.canSubscribe !== undefined) {
    out.authorizer = new HookAuthorizer(hooks);
  }
  return out;
}

function guarded(
  fn: ((clientId: string, username: string | undefined, topic: string) => boolean) | undefined,
): (clientId: string, username: string | undefined, topic: string) => boolean {
  if (fn === undefined) return () => true;
  return (clientId, username, topic) => {
    try {
      return fn(clientId, username, topic) === true;
    } catch {
      return false;
    }
  };
}

export class HookAuthorizer implements Authorizer {
  readonly canWrite: (clientId: string, username: string | undefined, topic: string) => boolean;
  readonly canRead: (clientId: string, username: string | undefined, topic: string) => boolean;
  readonly canSubscribe: (clientId: string, username: string | undefined, filter: string) => boolean;

  constructor(hooks: AuthHooks) {
    this.canWrite = guarded(hooks.canWrite?.bind(hooks));
    this.canRead = guarded(hooks.canRead?.bind(hooks));
    this.canSubscribe = guarded(hooks.canSubscribe?.bind(hooks));
  }
}

/** Every authorizer must allow (an ACL file and a hook together, say). */
export function allAuthorizers(list: Authorizer[]): Authorizer {
  if (list.length === 1) return list[0];
  return {
    canWrite: (c, u, t) => list.every((a) => a.canWrite(c, u, t)),
    canRead: (c, u, t) => list.every((a) => a.canRead(c, u, t)),
    canSubscribe: (c, u, f) => list.every((a) => a.canSubscribe(c, u, f)),
  };
}
