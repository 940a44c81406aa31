/**
 * The offline-message store (issue 7, redis_store FILTER MODE), in EMQ X's layout:
 * each matching publish is the hash mqtt:msg:<msgid> (id, from, qos, topic, retain,
 * payload, ts) living redis_message_expiry seconds, its id added to the sorted set
 * mqtt:msg:<topic> in publish order.
 *
 * - pubsub: a client that subscribes later gets every stored message after its
 *   acknowledged position, once;
 * - queue: a stored message goes to one subscriber (the first to claim it: the `owner`
 *   field) and is removed once acknowledged;
 * - keep_latest: like pubsub, but only the newest message per topic is kept.
 * Every acknowledgement (PUBACK, PUBCOMP, or delivery at QoS 0) records
 * mqtt:acked:<clientid>:<topic> = msgid, never moving backwards, so a client that
 * returns receives nothing it already acknowledged.
 *
 * Replays happen when a subscription is made (SUBSCRIBE, provisioning, events), read
 * up to the moment of subscribing: anything later reaches the client by normal routing.
 */
import { hasWildcard, topicMatches, type QoS } from '../../protocol/index.js';
import type { RedisStoreMode, RedisStoreRule } from '../config/types.js';
import type { Log } from '../log.js';
import { Message } from '../message.js';
import type { RedisLink } from './connection.js';
import { MSG_PREFIX, ackedKey, globEscape, msgKey, topicKey, unixSeconds } from './keys.js';
import { positionOf, type MessageIds, type StoredRef } from './message-id.js';
import { isBrokerTopic } from './retain-store.js';
import { scanTargets } from './link-options.js';
import type { BrokerCore, Session } from '../core.js';

/**
 * Stored messages of one topic after a position. KEYS: topic zset, acked key. ARGV:
 * msg key prefix, ceiling, mode, client id, position already delivered here, limit.
 */
const FETCH = `
local after = ARGV[5]
if ARGV[3] ~= 'queue' then
  local acked = redis.call('GET', KEYS[2])
  if acked then
    local pos = tonumber(string.sub(acked, 1, 14), 16)
    if pos and pos > tonumber(after) then after = string.format('%.0f', pos) end
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, ARGV[2], 'LIMIT', 0, tonumber(ARGV[6]))
local out = {}
for i = 1, #ids do
  local id = ids[i]
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    local take = true
    if ARGV[3] == 'queue' then
      local owner = redis.call('HGET', key, 'owner')
      if not owner then redis.call('HSET', key, 'owner', ARGV[4])
      elseif owner ~= ARGV[4] then take = false end
    end
    if take then
      local m = redis.call('HMGET', key, 'from', 'qos', 'topic', 'payload')
      out[#out + 1] = {id, m[1] or '', m[2] or '0', m[3] or '', m[4] or ''}
    end
  end
end
return out`;

const RULE_CACHE_LIMIT = 10_000;
const REPLAY_LIMIT = 10_000;
const SCAN_TOPICS_LIMIT = 10_000;

/** Can some topic match both filters? */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return p === q;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
}

interface SessionState {
  /** Highest position delivered or acknowledged per topic, so a replay gives nothing twice. */
  delivered: Map<string, number>;
  /** Highest position whose acknowledgement was written, per topic. */
  acked: Map<string, number>;
  /** Queue messages this session claimed and has not acknowledged: id -> topic. */
  owned: Map<string, string>;
}

export class MessageStore {
  private readonly ruleCache = new Map<string, RedisStoreRule | null>();
  private readonly state = new WeakMap<Session, SessionState>();
  /** Replays started and not finished (tests wait for 0). */
  replaying = 0;

  constructor(
    private readonly broker: BrokerCore,
    private readonly link: RedisLink,
    private readonly log: Log,
    private readonly ids: MessageIds,
    private readonly rules: RedisStoreRule[],
    private readonly expiry: number,
    private readonly timeoutMs: number,
  ) {}

  /** The first rule whose filter matches the topic, cached per topic. */
  ruleFor(topic: string): RedisStoreRule | null {
    let r = this.ruleCache.get(topic);
    if (r !== undefined) return r;
    r = null;
    if (!isBrokerTopic(topic)) {
      for (const rule of this.rules) {
        if (topicMatches(rule.filter, topic)) {
          r = rule;
          break;
        }
      }
    }
    if (this.ruleCache.size >= RULE_CACHE_LIMIT) this.ruleCache.clear();
    this.ruleCache.set(topic, r);
    return r;
  }

  onPublish(msg: Message): void {
    const rule = this.ruleFor(msg.topic);
    if (rule === null) return;
    const ref = this.ids.assign(msg, rule.mode);
    const mk = msgKey(ref.id);
    const tk = topicKey(msg.topic);
    const link = this.link;
    if (rule.mode === 'keep_latest') link.send(['@drop', tk, MSG_PREFIX]);
    link.send([
      'HSET', mk,
      'id', ref.id,
      'from', msg.from ?? '',
      'qos', msg.qos,
      'topic', msg.topic,
      'retain', msg.retain ? 1 : 0,
      'payload', msg.payload,
      'ts', unixSeconds(),
    ]);
    link.send(['ZADD', tk, ref.score, ref.id]);
    if (this.expiry > 0) {
      link.send(['EXPIRE', mk, this.expiry]);
      link.send(['EXPIRE', tk, this.expiry]);
      // Ids of expired messages leave the sorted set too.
      link.send(['ZREMRANGEBYSCORE', tk, '-inf', '(' + (ref.score - this.expiry * 1_000_000)]);
    }
  }

  private stateOf(session: Session): SessionState {
    let s = this.state.get(session);
    if (s === undefined) {
      s = { delivered: new Map(), acked: new Map(), owned: new Map() };
      this.state.set(session, s);
    }
    return s;
  }

  /** A stored message reached the client; QoS 0 deliveries count as acknowledged. */
  onDelivered(session: Session, msg: Message, qos: QoS | undefined): void {
    const ref = this.ids.get(msg);
    if (ref === undefined || ref.mode === null) return;
    const s = this.stateOf(session);
    if ((s.delivered.get(msg.topic) ?? -1) < ref.score) s.delivered.set(msg.topic, ref.score);
    if (ref.mode === 'queue' && !s.owned.has(ref.id)) {
      s.owned.set(ref.id, msg.topic);
      this.link.send(['HSETNX', msgKey(ref.id), 'owner', session.clientId]);
    }
    if ((qos ?? deliveredQos(session, msg)) === 0) this.onAcked(session, msg);
  }

  onAcked(session: Session, msg: Message): void {
    const ref = this.ids.get(msg);
    if (ref === undefined || ref.mode === null) return;
    const s = this.stateOf(session);
    const topic = msg.topic;
    if ((s.acked.get(topic) ?? -1) < ref.score) {
      s.acked.set(topic, ref.score);
      // Never backwards: acknowledgements may arrive out of publish order (@ack).
      this.link.send(['@ack', ackedKey(session.clientId, topic), ref.id]);
    }
    if ((s.delivered.get(topic) ?? -1) < ref.score) s.delivered.set(topic, ref.score);
    if (ref.mode === 'queue') {
      s.owned.delete(ref.id);
      this.link.send(['ZREM', topicKey(topic), ref.id]);
      this.link.send(['DEL', msgKey(ref.id)]);
    }
  }

  /** Queue messages claimed by a session that ended without acknowledging go back to the queue. */
  onSessionDestroyed(session: Session): void {
    const s = this.state.get(session);
    if (s === undefined) return;
    for (const id of s.owned.keys()) this.link.send(['@release', msgKey(id), session.clientId]);
    this.state.delete(session);
  }

  /** A subscription was made: sends the session what the store holds for it. */
  onSubscribe(session: Session, filter: string): void {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined || sub.shareGroup !== undefined || !this.link.ready) return;
    const tf = sub.treeFilter;
    if (!this.rules.some((r) => filtersOverlap(r.filter, tf))) return;
    this.replaying++;
    this.replay(session, filter, tf)
      .catch((err: Error) => {
        if (this.link.ready) this.log.warning(`Warning: Unable to read stored messages for ${session.clientId} (${err.message}).`);
      })
      .finally(() => this.replaying--);
  }

  private async replay(session: Session, filter: string, tf: string): Promise<void> {
    const ceiling = this.ids.ceiling();
    const topics = hasWildcard(tf) ? await this.scanTopics(tf) : [tf];
    const cid = session.clientId;
    for (const topic of topics) {
      const rule = this.ruleFor(topic);
      if (rule === null || !topicMatches(tf, topic)) continue;
      const after = this.stateOf(session).delivered.get(topic) ?? -1;
      const rows = (await this.link.read(
        (r) =>
          r.callBuffer('EVAL', FETCH, 2, topicKey(topic), ackedKey(cid, topic), MSG_PREFIX, ceiling, rule.mode, cid, after, REPLAY_LIMIT),
        this.timeoutMs,
      )) as Buffer[][];
      if (this.broker.sessions.get(cid) !== session || !session.subscriptions.has(filter)) {
        // The session or subscription ended while Redis answered: give back what was claimed.
        if (rule.mode === 'queue') for (const row of rows) this.link.send(['@release', msgKey(row[0].toString()), cid]);
        return;
      }
      this.deliverRows(session, filter, topic, rule.mode, rows);
    }
  }

  private deliverRows(session: Session, filter: string, topic: string, mode: RedisStoreMode, rows: Buffer[][]): void {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined || rows.length === 0) return;
    const s = this.stateOf(session);
    const pending = this.idsHeldBy(session);
    const broker = this.broker;
    if (!broker.mayRead(session, topic)) return;
    for (const row of rows) {
      const id = row[0].toString();
      const score = positionOf(id);
      if (score <= (s.delivered.get(topic) ?? -1) || pending.has(id)) continue;
      const q = Number(row[2].toString());
      const msgQos: QoS = q === 1 || q === 2 ? q : 0;
      const from = row[1].length > 0 ? row[1].toString() : undefined;
      const msg = new Message(row[3].toString() || topic, row[4], msgQos, false, undefined, from, undefined);
      this.ids.adopt(msg, id, mode);
      s.delivered.set(topic, score);
      if (mode === 'queue') s.owned.set(id, topic);
      const subQos = sub.options.qos;
      const qos = broker.options.upgradeOutgoingQos ? subQos : ((msgQos < subQos ? msgQos : subQos) as QoS);
      const ids = sub.options.identifier > 0 ? [sub.options.identifier] : undefined;
      broker.messages.deliver(session, msg, qos, false, ids);
    }
  }

  /** Ids of stored messages the session already holds in flight or queued. */
  private idsHeldBy(session: Session): Set<string> {
    const out = new Set<string>();
    for (const o of session.inflight.values()) {
      const ref = this.ids.get(o.msg);
      if (ref !== undefined) out.add(ref.id);
    }
    for (const o of session.queue.toArray()) {
      const ref = this.ids.get(o.msg);
      if (ref !== undefined) out.add(ref.id);
    }
    return out;
  }

  /** Topics with stored messages under a wildcard filter's literal prefix. */
  private async scanTopics(tf: string): Promise<string[]> {
    let literal = tf.slice(0, Math.min(...['+', '#'].map((c) => (tf.includes(c) ? tf.indexOf(c) : tf.length))));
    if (literal.endsWith('/')) literal = literal.slice(0, -1);
    const pattern = globEscape(topicKey(literal)) + '*';
    const topics: string[] = [];
    for (const server of scanTargets(this.link.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await this.link.read(
          () => server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'zset'),
          this.timeoutMs,
        );
        cursor = next;
        for (const k of keys) {
          const topic = k.slice(MSG_PREFIX.length);
          if (topicMatches(tf, topic)) topics.push(topic);
        }
      } while (cursor !== '0' && topics.length < SCAN_TOPICS_LIMIT);
    }
    return topics;
  }
}

/**
 * The QoS a message went out at, for brokers whose onDelivered does not pass it: a QoS 1
 * or 2 delivery is in the session's inflight window when the hook runs.
 */
function deliveredQos(session: Session, msg: Message): QoS {
  if (msg.qos === 0) return 0;
  for (const o of session.inflight.values()) if (o.msg === msg) return o.qos;
  return 0;
}

export type { StoredRef };
