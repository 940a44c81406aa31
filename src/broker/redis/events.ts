/**
 * Subscribe events (issue 7): the broker listens on a Redis channel (`mqtt_channel` by
 * default, redis_event_channel) for
 *   {"type":"subscribe"|"unsubscribe","topic":"...","clientid":"...","qos":0|"0"}
 * applies it to that client's session if this broker has it, and updates
 * mqtt:sub:<clientid> so that the client has the subscription on its next connect too.
 * A malformed event is logged and ignored.
 */
import { isValidTopicFilter, parseSharedFilter, type QoS } from '../../protocol/index.js';
import type { Log } from '../log.js';
import type { RedisLink } from './connection.js';
import { subKey } from './keys.js';
import { applySubscription, parseQos, removeSubscription, sendRetainedFor } from './subscriptions.js';
import type { BrokerCore } from '../core.js';

export interface SubscribeEvent {
  type: 'subscribe' | 'unsubscribe';
  topic: string;
  clientid: string;
  qos: QoS;
}

/** Longest event accepted; anything bigger is not a subscribe event. */
const MAX_EVENT_BYTES = 64 * 1024;

/** Parses an event; returns the reason it is malformed as a string. */
export function parseEvent(text: string): SubscribeEvent | string {
  if (text.length > MAX_EVENT_BYTES) return 'too long';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.type !== 'subscribe' && o.type !== 'unsubscribe') return 'type must be "subscribe" or "unsubscribe"';
  if (typeof o.topic !== 'string' || o.topic === '') return 'missing topic';
  const shared = parseSharedFilter(o.topic);
  if (!isValidTopicFilter(shared !== null ? shared.filter : o.topic)) return 'invalid topic filter';
  if (typeof o.clientid !== 'string' || o.clientid === '') return 'missing clientid';
  let qos: QoS = 0;
  if (o.type === 'subscribe' && o.qos !== undefined) {
    const q = parseQos(o.qos);
    if (q === undefined) return 'qos must be 0, 1 or 2';
    qos = q;
  }
  return { type: o.type, topic: o.topic, clientid: o.clientid, qos };
}

export class EventListener {
  constructor(
    private readonly broker: BrokerCore,
    private readonly subscriber: RedisLink,
    private readonly store: RedisLink,
    private readonly log: Log,
    private readonly channel: string,
  ) {
    subscriber.onReady(async () => {
      await subscriber.redis.subscribe(channel);
    });
    subscriber.redis.on('message', (ch: string, message: string) => {
      if (ch === this.channel) this.handle(message);
    });
  }

  handle(text: string): void {
    const ev = parseEvent(text);
    if (typeof ev === 'string') {
      const shown = text.length > 200 ? text.slice(0, 200) + '...' : text;
      this.log.warning(`Warning: Ignoring malformed Redis event on ${this.channel} (${ev}): ${shown}`);
      return;
    }
    const session = this.broker.sessions.get(ev.clientid);
    if (ev.type === 'subscribe') {
      // Written first: if the client is connected, applying it below writes it again
      // through the plugin's onSubscribe, which is harmless.
      this.store.send(['HSET', subKey(ev.clientid), ev.topic, ev.qos]);
      if (session === undefined) return;
      const applied = applySubscription(this.broker, session, ev.topic, ev.qos, this.log);
      const client = session.client;
      if (applied !== undefined && client !== null) sendRetainedFor(this.broker, client, [applied]);
    } else {
      this.store.send(['HDEL', subKey(ev.clientid), ev.topic]);
      if (session !== undefined) removeSubscription(this.broker, session, ev.topic, this.log);
    }
  }
}
