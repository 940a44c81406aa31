/**
 * The memory session store: client sessions by client id, and the local sessions of
 * bridges kept apart from them (persisted like client sessions, but no client's, so
 * neither expired nor counted as clients). Every change that touches the broker's
 * counters ($SYS stored messages) or the subscription tree goes through here or the
 * broker's destroySession, never through the maps directly.
 */
import type { Session, SessionStore } from './core.js';
import { MemorySession } from './session.js';
import type { Stats } from './stats.js';

export class SessionTable implements SessionStore {
  private readonly byId = new Map<string, Session>();
  readonly bridgeSessions = new Map<string, Session>();

  constructor(
    private readonly stats: Stats,
    /** The broker's destroySession: subscriptions out of the tree, shared messages handed on, plugins told. */
    private readonly destroyer: (session: Session) => void,
  ) {}

  get(clientId: string): Session | undefined {
    return this.byId.get(clientId);
  }

  has(clientId: string): boolean {
    return this.byId.has(clientId);
  }

  keys(): IterableIterator<string> {
    return this.byId.keys();
  }

  values(): IterableIterator<Session> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  create(clientId: string, clean: boolean): Session {
    const old = this.byId.get(clientId);
    if (old !== undefined) this.destroyer(old);
    const session = new MemorySession(clientId, clean);
    this.byId.set(clientId, session);
    return session;
  }

  destroy(session: Session): void {
    this.destroyer(session);
  }

  /** Called by the broker's destroySession once the session's state is gone. */
  forget(session: Session): void {
    if (this.byId.get(session.clientId) === session) this.byId.delete(session.clientId);
  }

  adoptForBridge(clientId: string): Session {
    let session = this.byId.get(clientId);
    if (session !== undefined && session.client === null && !session.clean) {
      this.byId.delete(clientId);
      this.stats.storedMessages -= session.queue.length;
    } else {
      session = new MemorySession(clientId, false);
    }
    this.bridgeSessions.set(clientId, session);
    return session;
  }
}
