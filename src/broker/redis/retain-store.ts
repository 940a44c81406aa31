/**
 * The retained store (issue 7, redis_retain): each retained message is the hash
 * mqtt:retain:<topic> with fields id, from, qos, topic, retain, payload (binary-safe) and
 * ts (unix seconds); an empty retained payload deletes it (MQTT-3.3.1-10).
 *
 * The broker loads them all into its retained tree when Redis first answers (at start,
 * or later if Redis was down then), so retained messages survive a restart with empty
 * local state, and wildcard subscriptions are served from the tree, never by scanning
 * Redis per SUBSCRIBE.
 */
import type { Log } from '../log.js';
import { Message } from '../message.js';
import type { RedisLink } from './connection.js';
import { RETAIN_PREFIX, globEscape, retainKey, unixSeconds } from './keys.js';
import { scanTargets } from './link-options.js';
import type { MessageIds } from './message-id.js';
import type { BrokerCore } from '../core.js';

const SCAN_COUNT = 1000;
/** Topics whose retained message was cleared here before the first load; bounded. */
const MAX_CLEARED = 10_000;

/** Topics the broker regenerates itself ($SYS) are not worth a Redis write. */
export function isBrokerTopic(topic: string): boolean {
  return topic.startsWith('$SYS/');
}

export class RetainStore {
  private loaded = false;
  private readonly clearedBeforeLoad = new Set<string>();

  constructor(
    private readonly broker: BrokerCore,
    private readonly link: RedisLink,
    private readonly log: Log,
    private readonly ids: MessageIds,
    private readonly timeoutMs: number,
  ) {}

  onRetain(msg: Message): void {
    const topic = msg.topic;
    if (isBrokerTopic(topic)) return;
    if (msg.payload.length === 0) {
      this.link.send(['DEL', retainKey(topic)]);
      if (!this.loaded && this.clearedBeforeLoad.size < MAX_CLEARED) this.clearedBeforeLoad.add(topic);
      return;
    }
    if (!this.loaded) this.clearedBeforeLoad.delete(topic);
    this.link.send([
      'HSET', retainKey(topic),
      'id', this.ids.idOf(msg),
      'from', msg.from ?? '',
      'qos', msg.qos,
      'topic', topic,
      'retain', 1,
      'payload', msg.payload,
      'ts', unixSeconds(),
    ]);
  }

  /**
   * Loads every mqtt:retain:* hash once. A topic already retained here (published while
   * Redis was away) keeps the local, newer message.
   */
  async load(): Promise<void> {
    if (this.loaded) return;
    let count = 0;
    const pattern = globEscape(RETAIN_PREFIX) + '*';
    // A Redis Cluster spreads the keys over its masters: each is scanned, and read, in turn.
    for (const server of scanTargets(this.link.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await this.link.read(
          () => server.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT, 'TYPE', 'hash'),
          this.timeoutMs,
        );
        cursor = next;
        if (keys.length === 0) continue;
        const results = await this.link.read(() => {
          const p = server.pipeline();
          for (const k of keys) p.hgetallBuffer(k);
          return p.exec();
        }, this.timeoutMs);
        for (const [err, value] of results ?? []) {
          if (err !== null) continue;
          if (this.adopt(value as Record<string, Buffer>)) count++;
        }
      } while (cursor !== '0');
    }
    this.loaded = true;
    this.clearedBeforeLoad.clear();
    if (count > 0) this.log.info(`Loaded ${count} retained messages from Redis.`);
  }

  private adopt(h: Record<string, Buffer>): boolean {
    const topic = h.topic?.toString();
    const payload = h.payload;
    if (topic === undefined || topic === '' || payload === undefined || payload.length === 0) return false;
    if (this.clearedBeforeLoad.has(topic) || this.broker.retained.get(topic) !== undefined) return false;
    const q = Number(h.qos?.toString());
    const qos = q === 1 || q === 2 ? q : 0;
    const from = h.from !== undefined && h.from.length > 0 ? h.from.toString() : undefined;
    const msg = new Message(topic, Buffer.from(payload), qos, true, undefined, from, undefined);
    if (h.id !== undefined) this.ids.adopt(msg, h.id.toString(), null);
    this.broker.retained.set(msg);
    return true;
  }
}
