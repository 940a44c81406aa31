/**
 * Puts a restored state into a broker that has not opened its listeners yet: sessions
 * (with their subscriptions in the router, their queues, messages in flight and QoS 2
 * messages received) and retained messages.
 */
import { Message } from '../message.js';
import type { StoredMessage, StoredOutgoing } from './records.js';
import { PersistState, type SessionState } from './state.js';
import type { BrokerCore, Outgoing, Session } from '../core.js';

export interface InstallCounts {
  sessions: number;
  retained: number;
  messages: number;
}

/** The Message a stored one describes, with its storeId and absolute expiry kept. */
export function messageFromStored(m: StoredMessage): Message {
  const msg = new Message(m.topic, m.payload, m.qos, m.retain, m.properties, m.from, m.fromUsername, m.storeId);
  msg.expiresAt = m.expiresAt;
  msg.fromPort = m.fromPort;
  return msg;
}

class MessageCache {
  private readonly made = new Map<number, Message>();
  constructor(private readonly state: PersistState) {}

  get(storeId: number): Message | undefined {
    let msg = this.made.get(storeId);
    if (msg === undefined) {
      const stored = this.state.messages.get(storeId);
      if (stored === undefined) return undefined;
      msg = messageFromStored(stored);
      this.made.set(storeId, msg);
    }
    return msg;
  }

  get size(): number {
    return this.made.size;
  }
}

function outgoing(o: StoredOutgoing, msg: Message): Outgoing {
  return { mid: o.mid, msg, qos: o.qos, retain: o.retain, identifiers: o.identifiers, state: o.state };
}

/** Restores one session into the broker (also usable by other stores that rebuild sessions). */
export function restoreSession(broker: BrokerCore, s: SessionState, messages: { get(storeId: number): Message | undefined }, now: number): Session {
  // Replaces (destroys) any session of that id the broker already holds.
  const session = broker.sessions.create(s.clientId, false);
  session.expiryInterval = s.expiry;
  session.username = s.username;
  // A session whose client was connected when the broker stopped counts as gone from now.
  session.disconnectedAt = s.disconnectedAt > 0 ? s.disconnectedAt : now;
  for (const sub of s.subscriptions.values()) {
    broker.addSubscription(session, sub.treeFilter, sub.options, sub.shareGroup);
    session.subscriptions.set(sub.filter, { ...sub });
  }
  for (const o of s.inflight.values()) {
    const msg = messages.get(o.storeId);
    if (msg === undefined) continue;
    broker.messages.restoreInflight(session, outgoing(o, msg));
  }
  for (const o of PersistState.liveQueue(s)) {
    const msg = messages.get(o.storeId);
    // MQTT-3.3.2-5: a message whose expiry passed while the broker was down is not delivered.
    if (msg === undefined || (msg.expiresAt !== 0 && msg.expiresAt <= now)) continue;
    broker.messages.restoreQueued(session, outgoing({ ...o, state: 0 }, msg));
  }
  for (const [mid, storeId] of s.incoming) {
    const msg = messages.get(storeId);
    if (msg !== undefined) session.incoming.set(mid, msg);
  }
  if (s.lastMid > 0) session.setLastMid(s.lastMid);
  return session;
}

export function installState(broker: BrokerCore, state: PersistState, now: number): InstallCounts {
  const cache = new MessageCache(state);
  for (const s of state.sessions.values()) restoreSession(broker, s, cache, now);
  let retained = 0;
  for (const storeId of state.retained.values()) {
    const msg = cache.get(storeId);
    if (msg === undefined || msg.payload.length === 0) continue;
    if (msg.expiresAt !== 0 && msg.expiresAt <= now) continue;
    msg.retain = true;
    broker.retained.set(msg);
    retained++;
  }
  return { sessions: state.sessions.size, retained, messages: cache.size };
}
