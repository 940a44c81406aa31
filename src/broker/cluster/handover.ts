/**
 * Session takeover across nodes (issue 15, Sessions). A client id is connected at most
 * once in the cluster: before CONNACK, the node a client connects to asks every other
 * live node on the channel to give the id up. A node that has it closes the connection
 * (MQTT 5: DISCONNECT 0x8E Session taken over, MQTT-3.1.4-2), and if both the old and
 * the new connection keep their session, sends the session (its subscriptions and the
 * QoS 1/2 messages in flight and queued for it) in its answer and forgets it; the new
 * node builds the session from it, so that CONNACK says session present and the
 * messages go out after it.
 */
import { parseSharedFilter, ReasonCode, type QoS } from '../../protocol/index.js';
import type { Log } from '../log.js';
import { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import type { BrokerCore, ClientContext, Session } from '../core.js';
import { fromShared, toShared } from './clock.js';
import type { HandedSession } from './keys.js';

/** Builds the handed form of a session and forgets it here. */
export function giveUp(broker: BrokerCore, log: Log, id: string, keep: boolean, to: string): HandedSession | null {
  let session = broker.sessions.get(id);
  if (session === undefined) return null;
  const old = session.client;
  if (old !== null) {
    log.notice(`Cluster: client ${id} connected on node ${to}, closing old connection.`);
    if (!session.clean && keep) old.will = null;
    old.disconnect('takeover', ReasonCode.SessionTakenOver);
    broker.detachClient(old);
    session = broker.sessions.get(id);
    if (session === undefined) return null;
  }
  const handed = keep && !session.clean ? handedForm(session) : null;
  broker.sessions.destroy(session);
  return handed;
}

function handedForm(session: Session): HandedSession {
  const subs: HandedSession['subs'] = [];
  for (const s of session.subscriptions.values()) {
    const o = s.options;
    subs.push({ filter: s.filter, qos: o.qos, nl: o.noLocal, rap: o.retainAsPublished, rh: o.retainHandling, sid: o.identifier });
  }
  const messages: HandedSession['messages'] = [];
  const now = Date.now();
  const outs = [...session.inflight.values()].filter((o) => o.state === 0).concat(session.queue.toArray());
  for (const o of outs) {
    const m = o.msg;
    if (m.expiresAt !== 0 && m.expiresAt <= now) continue;
    messages.push({
      t: m.topic, p: m.payload.toString('base64'), q: o.qos, r: o.retain,
      f: m.from ?? '', x: m.storedProperties().toString('base64'), e: toShared(m.expiresAt),
    });
  }
  return { expiry: session.expiryInterval, subs, messages };
}

/** Builds a session handed by another node, before CONNACK (the client asked to keep its session). */
export function adopt(broker: BrokerCore, client: ClientContext, h: HandedSession): void {
  const id = client.clientId;
  if (broker.sessions.get(id) !== undefined) return;
  const session = broker.sessions.create(id, false);
  session.expiryInterval = h.expiry;
  session.disconnectedAt = Date.now();
  session.username = client.username;
  const mount = client.mountPoint ?? '';
  for (const s of h.subs) {
    const shared = parseSharedFilter(s.filter);
    const treeFilter = mount + (shared !== null ? shared.filter : s.filter);
    const options: SubscriptionOptions = { qos: s.qos as QoS, noLocal: s.nl, retainAsPublished: s.rap, retainHandling: s.rh, identifier: s.sid };
    broker.addSubscription(session, treeFilter, options, shared?.group);
    session.subscriptions.set(s.filter, { filter: s.filter, treeFilter, shareGroup: shared?.group, options });
    for (const p of broker.plugins) p.onSubscribe?.(session, s.filter, options);
  }
  for (const m of h.messages) {
    const msg = new Message(m.t, Buffer.from(m.p, 'base64'), m.q as QoS, m.r, undefined, m.f || undefined, undefined);
    const x = Buffer.from(m.x, 'base64');
    if (x.length > 0) msg.setStoredProperties(x);
    msg.expiresAt = fromShared(m.e);
    broker.messages.restoreQueued(session, { mid: 0, msg, qos: m.q as QoS, retain: m.r, identifiers: undefined, state: 0 });
  }
}
