/**
 * Persistent sessions that outlive their node (issue 15, Sessions): each node mirrors in
 * Redis the persistent sessions it holds and the QoS 1/2 messages waiting for them, so
 * that when it dies (kill -9) the surviving node that claims it takes them over: the
 * sessions are rebuilt there, offline, with their subscriptions (mqtt:sub:<id>, kept by
 * the Redis plugin) and waiting messages, then what the dead node's stream still held is
 * delivered to them. The client, reconnecting on any node, then gets its session by the
 * ordinary takeover (handover.ts).
 *
 *   mqtt:cluster:sessions:<node>  set   client ids of the persistent sessions the node holds
 *   mqtt:cluster:session:<id>     hash  node, expiry (seconds)
 *   mqtt:cluster:queue:<id>       hash  message id -> message (JSON) until the client acknowledged it
 *
 * Writes go out pipelined, without waiting; a message a stream entry brought is written
 * here before the entry is acknowledged (same connection, in order).
 */
import type { QoS } from '../../protocol/index.js';
import { parseSharedFilter, topicMatches } from '../../protocol/index.js';
import { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import type { BrokerCore, Outgoing, OutgoingEvent, Session } from '../core.js';
import { fromShared, toShared } from './clock.js';
import { CLIENT_PREFIX, globEscape, subKey } from '../redis/keys.js';
import { scanTargets, type RedisClient } from '../redis/link-options.js';
import { queueKey, sessionKey, sessionsKey } from './keys.js';


interface Stored {
  t: string;
  p: string;
  q: number;
  r: boolean;
  f: string;
  x: string;
  e: number;
}

export class SessionMirror {
  constructor(
    private readonly broker: BrokerCore,
    private readonly cmd: RedisClient,
    private readonly self: string,
  ) {}

  /** A client attached to a persistent session here. */
  held(session: Session): void {
    if (session.clean) return;
    const id = session.clientId;
    this.cmd.multi().sadd(sessionsKey(this.self), id).hset(sessionKey(id), 'node', this.self, 'expiry', session.expiryInterval).exec().catch(() => {});
  }

  /** `moved`: the session lives on another node now (a takeover heard late): only this node's listing goes. */
  destroyed(session: Session, moved = false): void {
    const id = session.clientId;
    if (moved) {
      this.cmd.srem(sessionsKey(this.self), id).catch(() => {});
      return;
    }
    this.cmd.multi().srem(sessionsKey(this.self), id).del(sessionKey(id)).del(queueKey(id)).exec().catch(() => {});
  }

  outgoing(session: Session, out: Outgoing, event: OutgoingEvent): void {
    if (out.qos === 0) return;
    const id = session.clientId;
    if (event === 'queued' || event === 'inflight') {
      this.cmd.hset(queueKey(id), String(out.msg.storeId), encode(out)).catch(() => {});
    } else if (event === 'done' || event === 'pubrel') {
      this.cmd.hdel(queueKey(id), String(out.msg.storeId)).catch(() => {});
    }
  }

  /** Messages adopted from another node (handover.ts) are this node's to mirror now. */
  mirrorAll(session: Session): void {
    const id = session.clientId;
    const m = this.cmd.multi().del(queueKey(id));
    for (const out of [...session.inflight.values(), ...session.queue.toArray()]) {
      if (out.qos > 0) m.hset(queueKey(id), String(out.msg.storeId), encode(out));
    }
    m.exec().catch(() => {});
  }

  /** A dead node's persistent sessions, rebuilt here offline. */
  async adoptFrom(node: string): Promise<Session[]> {
    const ids = await this.cmd.smembers(sessionsKey(node));
    const adopted: Session[] = [];
    for (const id of ids) {
      const rec = await this.cmd.hgetall(sessionKey(id));
      // Moved on since (a takeover elsewhere), or already here.
      if (rec.node !== node || this.broker.sessions.has(id)) continue;
      const [subs, queued] = await Promise.all([this.cmd.hgetall(subKey(id)), this.cmd.hgetall(queueKey(id))]);
      const session = this.broker.sessions.create(id, false);
      session.expiryInterval = Number(rec.expiry ?? 0);
      session.disconnectedAt = Date.now();
      for (const [filter, q] of Object.entries(subs)) {
        const shared = parseSharedFilter(filter);
        const treeFilter = shared !== null ? shared.filter : filter;
        const options: SubscriptionOptions = { qos: (Number(q) as QoS) ?? 0, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 };
        this.broker.addSubscription(session, treeFilter, options, shared?.group);
        session.subscriptions.set(filter, { filter, treeFilter, shareGroup: shared?.group, options });
        for (const p of this.broker.plugins) p.onSubscribe?.(session, filter, options);
      }
      const msgs = Object.entries(queued).sort((a, b) => Number(a[0]) - Number(b[0]));
      for (const [, raw] of msgs) {
        const out = decode(raw);
        if (out !== undefined) this.broker.messages.restoreQueued(session, out);
      }
      this.held(session);
      this.mirrorAll(session);
      adopted.push(session);
    }
    await this.cmd.del(sessionsKey(node));
    return adopted;
  }

  /**
   * A message the dead node's stream still held: to the adopted sessions it was for only
   * (this node's own subscribers had their copy through this node's stream).
   */
  deliverTo(sessions: Session[], msg: Message): void {
    for (const session of sessions) {
      let qos = -1;
      for (const sub of session.subscriptions.values()) {
        if (sub.options.qos > qos && topicMatches(sub.treeFilter, msg.topic)) qos = sub.options.qos;
      }
      if (qos < 0 || !this.broker.mayRead(session, msg.topic)) continue;
      this.broker.messages.deliver(session, msg, (msg.qos < qos ? msg.qos : qos) as QoS, false, undefined);
    }
  }
}

function encode(out: Outgoing): string {
  const m = out.msg;
  const s: Stored = {
    t: m.topic, p: m.payload.toString('base64'), q: out.qos, r: out.retain,
    f: m.from ?? '', x: m.storedProperties().toString('base64'), e: toShared(m.expiresAt),
  };
  return JSON.stringify(s);
}

function decode(raw: string): Outgoing | undefined {
  try {
    const s = JSON.parse(raw) as Stored;
    const msg = new Message(s.t, Buffer.from(s.p, 'base64'), s.q as QoS, s.r, undefined, s.f || undefined, undefined);
    const x = Buffer.from(s.x, 'base64');
    if (x.length > 0) msg.setStoredProperties(x);
    msg.expiresAt = fromShared(s.e);
    return { mid: 0, msg, qos: s.q as QoS, retain: s.r, identifiers: undefined, state: 0 };
  } catch {
    return undefined;
  }
}

/**
 * Presence (the Redis plugin's keys) of a dead node's clients: offline wherever
 * mqtt:client:<id> still names that node as connected (a client that reconnected
 * elsewhere names its new node and is left alone). A SCAN, run once per dead node.
 */
export async function markOffline(cmd: RedisClient, presenceKey: string, node: string): Promise<number> {
  let n = 0;
  const now = Math.floor(Date.now() / 1000);
  const prefix = CLIENT_PREFIX();
  // On a Redis Cluster the client keys share the presence hash's slot (a hash tag): one
  // master holds them all, and the transaction below stays in that slot.
  for (const server of scanTargets(cmd)) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', globEscape(prefix) + '*', 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const p = cmd.pipeline();
      for (const k of keys) p.hmget(k, 'node', 'state');
      const res = (await p.exec()) ?? [];
      const m = cmd.multi();
      let any = false;
      keys.forEach((k, i) => {
        const [at, state] = (res[i]?.[1] as (string | null)[] | undefined) ?? [];
        if (at !== node || state !== '1') return;
        const id = k.slice(prefix.length);
        m.hset(k, 'state', '0', 'offline_at', now).hset(presenceKey, id, 'offline');
        any = true;
        n++;
      });
      if (any) await m.exec();
    } while (cursor !== '0');
  }
  return n;
}
