/**
 * The seams for authentication and authorization as the broker core uses them.
 * Implementations: password file and ACL file (auth/), Redis, or a programmatic hook.
 */
export interface ConnectCredentials {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  address: string;
}

export interface Authenticator {
  /** Resolves true to accept. Runs off the message path (connect only). */
  authenticate(credentials: ConnectCredentials): Promise<boolean> | boolean;
}

/** Synchronous and fast: consulted per message. */
export interface Authorizer {
  canWrite(clientId: string, username: string | undefined, topic: string): boolean;
  canRead(clientId: string, username: string | undefined, topic: string): boolean;
  canSubscribe(clientId: string, username: string | undefined, filter: string): boolean;
}

/** MQTT 5 enhanced authentication (AUTH exchange, MQTT 5.0 section 4.12). */
export interface EnhancedAuthenticator {
  /** Methods this authenticator handles. */
  readonly methods: string[];
  /**
   * One step of the exchange. Return `{ done: true, ok }` to finish, or `{ data }` to send
   * AUTH with reason 0x18 (continue) and wait for the client's next AUTH.
   */
  step(
    method: string,
    data: Buffer | undefined,
    state: { clientId: string; username: string | undefined; step: number; reauth: boolean },
  ): Promise<{ done: true; ok: boolean; data?: Buffer } | { done: false; data?: Buffer }>;
}
