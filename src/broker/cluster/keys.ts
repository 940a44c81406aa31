/**
 * The cluster's Redis keys and channel (issue 15). Node leases share mqtt:node:<node>
 * with presence (redis/keys.ts): the hash of the clients connected to that node gets one
 * more field, '' (never a client id), holding the node's instance token, and the whole
 * key expires with the lease, so a dead node's entry goes away by itself.
 *
 *   mqtt:node:<node>          hash    '' -> instance token (+ presence: clientid -> connect time); PEXPIRE lease
 *   mqtt:cluster:nodes        set     names of the nodes that joined and were not yet seen to leave or die
 *   mqtt:route:<node>         hash    tree filter -> highest QoS of the node's local subscribers
 *   mqtt:stream:<node>        stream  messages for the node (consumer group "cluster")
 *   mqtt:cluster:will:<node>  hash    clientid -> the will of a client connected to the node
 *   mqtt:cluster              channel membership, route changes (and 'routes': rewritten) and session takeovers (JSON)
 *
 * With a Redis Cluster (redis_cluster_nodes) the keys used in one transaction share a
 * slot: mqtt:node:*, mqtt:cluster:nodes and the session mirror's keys (sessions.ts) start
 * with the presence hash's tag, `{mqtt}`; routes, streams, wills and claims are only used
 * one key at a time and keep their names, spread over the cluster.
 */
import { hashTag } from '../redis/keys.js';

export { nodeKey } from '../redis/keys.js';
/** Redis Cluster: with the hash tag of presence (redis/keys.ts), in the slot of the leases it is used with. */
export const nodesKey = (): string => hashTag() + 'mqtt:cluster:nodes';
export const CHANNEL = 'mqtt:cluster';
export const LEASE_FIELD = '';
export const GROUP = 'cluster';
/** Redis Cluster: these three are used together (transactions), and carry the tag too. */
export const sessionsKey = (node: string): string => hashTag() + 'mqtt:cluster:sessions:' + node;
export const sessionKey = (id: string): string => hashTag() + 'mqtt:cluster:session:' + id;
export const queueKey = (id: string): string => hashTag() + 'mqtt:cluster:queue:' + id;
export const claimKey = (node: string): string => 'mqtt:cluster:claim:' + node;
export const routeKey = (node: string): string => 'mqtt:route:' + node;
export const streamKey = (node: string): string => 'mqtt:stream:' + node;
export const willKey = (node: string): string => 'mqtt:cluster:will:' + node;

/** What travels on the channel. */
export type ClusterEvent =
  | { op: 'join' | 'leave' | 'dead'; node: string }
  /** The node rewrote mqtt:route:<node> (it rejoined Redis): read it again. */
  | { op: 'routes'; node: string }
  | { op: 'route'; node: string; filter: string; qos: number }
  | { op: 'unroute'; node: string; filter: string }
  /** `from` takes over client `id`: its node closes the connection and hands the session on. */
  | { op: 'takeover'; node: string; id: string; clean: boolean; to: string }
  | { op: 'handed'; node: string; id: string; to: string; session: HandedSession | null };

/** A persistent session moving between nodes. */
export interface HandedSession {
  expiry: number;
  subs: { filter: string; qos: number; nl: boolean; rap: boolean; rh: number; sid: number }[];
  /** Outgoing QoS 1/2 messages, in flight first, then queued: see stream.ts for the fields (e on Redis's clock). */
  messages: { t: string; p: string; q: number; r: boolean; f: string; x: string; e: number }[];
}
