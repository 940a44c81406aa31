/**
 * The persisted state as records rebuild it: sessions with their subscriptions, queues,
 * messages in flight and QoS 2 messages received, the retained messages, and the messages
 * they all refer to. Replaying the snapshot and then the journal through apply() gives the
 * state at the moment of the last record written.
 */
import type { SubscriptionOptions } from '../router.js';
import type { PersistRecord, StoredMessage, StoredOutgoing } from './records.js';

export interface StoredSubscription {
  filter: string;
  treeFilter: string;
  shareGroup: string | undefined;
  options: SubscriptionOptions;
}

export interface SessionState {
  clientId: string;
  expiry: number;
  /** Unix ms when its client went away, 0 if it was connected. */
  disconnectedAt: number;
  lastMid: number;
  username: string | undefined;
  subscriptions: Map<string, StoredSubscription>;
  /** Queued messages; entries before `head` have left the queue. */
  queue: StoredOutgoing[];
  head: number;
  inflight: Map<number, StoredOutgoing>;
  /** QoS 2 messages received from the client awaiting PUBREL: packet id -> storeId. */
  incoming: Map<number, number>;
}

export class PersistState {
  readonly messages = new Map<number, StoredMessage>();
  readonly sessions = new Map<string, SessionState>();
  /** Retained messages: topic -> storeId. */
  readonly retained = new Map<string, number>();

  apply(rec: PersistRecord): void {
    switch (rec.t) {
      case 'message':
        this.messages.set(rec.m.storeId, rec.m);
        return;
      case 'session': {
        const s = this.sessions.get(rec.clientId);
        if (s === undefined) {
          this.sessions.set(rec.clientId, {
            clientId: rec.clientId,
            expiry: rec.expiry,
            disconnectedAt: rec.disconnectedAt,
            lastMid: rec.lastMid,
            username: rec.username,
            subscriptions: new Map(),
            queue: [],
            head: 0,
            inflight: new Map(),
            incoming: new Map(),
          });
        } else {
          s.expiry = rec.expiry;
          s.disconnectedAt = rec.disconnectedAt;
          s.username = rec.username;
          if (rec.lastMid !== 0) s.lastMid = rec.lastMid;
        }
        return;
      }
      case 'sessionDelete':
        this.sessions.delete(rec.clientId);
        return;
      case 'retain':
        this.retained.set(rec.topic, rec.storeId);
        return;
      case 'retainDelete':
        this.retained.delete(rec.topic);
        return;
      case 'header':
      case 'end':
        return;
      default:
        break;
    }
    // Records about a session that is gone (or was never persisted) are ignored.
    const s = this.sessions.get(rec.clientId);
    if (s === undefined) return;
    switch (rec.t) {
      case 'subscribe':
        s.subscriptions.set(rec.filter, { filter: rec.filter, treeFilter: rec.treeFilter, shareGroup: rec.shareGroup, options: rec.options });
        return;
      case 'unsubscribe':
        s.subscriptions.delete(rec.filter);
        return;
      case 'queued':
        s.queue.push(rec.out);
        // Queued QoS 1/2 messages have their packet ids already (deliver.ts).
        if (rec.out.mid !== 0) s.lastMid = rec.out.mid;
        return;
      case 'inflight':
        startInflight(s, rec.out);
        return;
      case 'pubrel': {
        const out = s.inflight.get(rec.mid);
        if (out !== undefined) out.state = 1;
        return;
      }
      case 'done':
        if (rec.mid !== 0) s.inflight.delete(rec.mid);
        else removeQueued(s, rec.storeId);
        return;
      case 'incoming':
        s.incoming.set(rec.mid, rec.storeId);
        return;
      case 'release':
        s.incoming.delete(rec.mid);
        return;
    }
  }

  /** The session's queue as it stands (entries that left it dropped). */
  static liveQueue(s: SessionState): StoredOutgoing[] {
    return s.head === 0 ? s.queue : s.queue.slice(s.head);
  }
}

/**
 * A message went in flight. The broker takes messages out of a queue only at its head, in
 * order, and sends a new message straight away only when the queue is empty; so this is
 * either the first queued copy of the message (everything before it has left the queue too,
 * e.g. QoS 0 messages sent without a record of their own) or a sign that the queue is empty.
 */
function startInflight(s: SessionState, out: StoredOutgoing): void {
  const q = s.queue;
  let i = s.head;
  while (i < q.length && q[i].storeId !== out.storeId) i++;
  if (i < q.length) s.head = i + 1;
  else {
    q.length = 0;
    s.head = 0;
  }
  if (s.head > 1024 && s.head * 2 > q.length) {
    s.queue = q.slice(s.head);
    s.head = 0;
  }
  s.inflight.set(out.mid, out);
  s.lastMid = out.mid;
}

/** A queued message left the queue without going in flight (sent at QoS 0, expired, dropped). */
function removeQueued(s: SessionState, storeId: number): void {
  const q = s.queue;
  for (let i = s.head; i < q.length; i++) {
    if (q[i].storeId === storeId) {
      q.splice(i, 1);
      return;
    }
  }
}
