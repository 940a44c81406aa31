/**
 * The Redis key layout (issue 7). Presence follows the Mosquitto fork that keeps online
 * state in a hash; the stores follow EMQ X's Redis storage plugin, so that back ends
 * written for either find their keys where they expect them.
 *
 *   <presence key>                 hash  clientid -> "online" | "offline"
 *   mqtt:client:<clientid>         hash  state 1|0, online_at, offline_at (unix s), node, conn
 *   mqtt:node:<node>               hash  clientid -> connect time (unix s)
 *   mqtt:sub:<clientid>            hash  filter -> qos
 *   mqtt:retain:<topic>            hash  id, from, qos, topic, retain, payload, ts
 *   mqtt:msg:<msgid>               hash  id, from, qos, topic, retain, payload, ts (+ owner in queue mode)
 *   mqtt:msg:<topic>               zset  msgid scored in publish order
 *   mqtt:acked:<clientid>:<topic>  string  msgid of the last acknowledged message
 */
/**
 * With redis_cluster_nodes (a Redis Cluster), the keys that a script or a transaction
 * uses together must share a hash slot: the keys of presence (mqtt:client:*,
 * mqtt:node:*) and of the offline-message store (mqtt:msg:*, mqtt:acked:*) then start with
 * the hash tag of the presence hash, `{mqtt}` by default, which puts them in the presence
 * hash's slot (useHashTag). Retained messages and subscriptions are only used one key at
 * a time and keep their names, spread over the cluster. The tag is '' on a single Redis.
 */
let TAG = '';
export let MSG_PREFIX = 'mqtt:msg:';

/** The hash tag that puts a key in the slot of `presenceKey` (a key's slot: its `{...}` part if it has a non-empty one, else all of it). */
export function hashTagOf(presenceKey: string): string {
  const open = presenceKey.indexOf('{');
  const close = open === -1 ? -1 : presenceKey.indexOf('}', open + 1);
  return '{' + (close > open + 1 ? presenceKey.slice(open + 1, close) : presenceKey) + '}';
}

/** Redis Cluster: keys used together carry the presence hash's tag (see above). Once, at start. */
export function useHashTag(presenceKey: string): void {
  TAG = hashTagOf(presenceKey);
  MSG_PREFIX = TAG + 'mqtt:msg:';
}

/** The tag in force ('' on a single Redis), for the cluster's keys that join these in transactions. */
export function hashTag(): string {
  return TAG;
}

export const clientKey = (clientId: string): string => TAG + 'mqtt:client:' + clientId;
export const CLIENT_PREFIX = (): string => TAG + 'mqtt:client:';
export const nodeKey = (node: string): string => TAG + 'mqtt:node:' + node;
export const subKey = (clientId: string): string => 'mqtt:sub:' + clientId;
export const RETAIN_PREFIX = 'mqtt:retain:';
export const retainKey = (topic: string): string => RETAIN_PREFIX + topic;
export const msgKey = (msgId: string): string => MSG_PREFIX + msgId;
export const topicKey = (topic: string): string => MSG_PREFIX + topic;
export const ackedKey = (clientId: string, topic: string): string => TAG + 'mqtt:acked:' + clientId + ':' + topic;

/** Escapes glob characters so that a literal prefix can be used in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => '\\' + c);
}

/** Unix seconds, the unit of online_at, offline_at and ts. */
export function unixSeconds(now = Date.now()): number {
  return Math.floor(now / 1000);
}
