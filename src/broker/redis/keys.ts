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
export const clientKey = (clientId: string): string => 'mqtt:client:' + clientId;
export const nodeKey = (node: string): string => 'mqtt:node:' + node;
export const subKey = (clientId: string): string => 'mqtt:sub:' + clientId;
export const RETAIN_PREFIX = 'mqtt:retain:';
export const retainKey = (topic: string): string => RETAIN_PREFIX + topic;
export const MSG_PREFIX = 'mqtt:msg:';
export const msgKey = (msgId: string): string => MSG_PREFIX + msgId;
export const topicKey = (topic: string): string => MSG_PREFIX + topic;
export const ackedKey = (clientId: string, topic: string): string => 'mqtt:acked:' + clientId + ':' + topic;

/** Escapes glob characters so that a literal prefix can be used in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => '\\' + c);
}

/** Unix seconds, the unit of online_at, offline_at and ts. */
export function unixSeconds(now = Date.now()): number {
  return Math.floor(now / 1000);
}
