/**
 * ts-mosquitto's Redis options (issue 7). Mosquitto has none of these; the messages
 * follow the style of its own ("Error: Invalid X value (Y).").
 */
import { isValidTopicFilter } from '../../protocol/topic.js';
import { emptyValue, OptionError } from './errors.js';
import type { OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { RedisConfig, RedisHookEvent, RedisStoreMode } from './types.js';
import { type LineTokens, parseBool, parseInt32, parseString, requireWord } from './values.js';

const HOOK_EVENTS = new Set<string>([
  'client.connected',
  'client.disconnected',
  'session.subscribed',
  'session.unsubscribed',
  'message.publish',
  'message.delivered',
  'message.acked',
]);
const STORE_MODES = new Set<string>(['queue', 'pubsub', 'keep_latest']);

function isRedisUrl(u: string): boolean {
  if (!/^rediss?:\/\//.test(u)) return false;
  try {
    new URL(u);
    return true;
  } catch {
    return false;
  }
}

type StringKey = 'host' | 'password' | 'nodeName' | 'presenceKey' | 'eventChannel';

function redisString(key: StringKey, enables = false) {
  return (st: ParseState, t: LineTokens, name: string): void => {
    const r = st.config.redis;
    const v = parseString(t, name, st.markSet(r, name));
    r[key] = v;
    if (enables) {
      r.enabled = true;
      r.addressSet = true;
    }
  };
}

function redisStore(st: ParseState, t: LineTokens, name: string): void {
  const r: RedisConfig = st.config.redis;
  const filter = requireWord(t, name);
  // Explicit rules replace the default ones; `redis_store none` leaves no rule at all.
  if (!st.redisStoreSet) {
    st.redisStoreSet = true;
    r.store = [];
  }
  if (filter === 'none') {
    r.store = [];
    return;
  }
  if (!isValidTopicFilter(filter)) throw new OptionError(`Error: Invalid redis_store topic filter (${filter}).`);
  const mode = t.next();
  if (mode === null) throw new OptionError('Error: Empty redis_store mode in configuration.');
  if (!STORE_MODES.has(mode)) throw new OptionError(`Error: Invalid redis_store mode (${mode}).`);
  r.store.push({ filter, mode: mode as RedisStoreMode });
}

function redisHook(st: ParseState, t: LineTokens, name: string): void {
  const r = st.config.redis;
  const event = requireWord(t, name);
  if (!HOOK_EVENTS.has(event)) throw new OptionError(`Error: Invalid redis_hook event (${event}).`);
  let topic: string | null = null;
  let pool: string | null = null;
  let w = t.next();
  // Optional qualifiers come before the command; a command never contains '='.
  for (; w !== null && w.includes('='); w = t.next()) {
    if (w.startsWith('topic=')) {
      topic = w.slice(6);
      if (!isValidTopicFilter(topic)) throw new OptionError(`Error: Invalid redis_hook topic filter (${topic}).`);
    } else if (w.startsWith('pool=')) {
      pool = w.slice(5);
      if (!Object.hasOwn(r.pools, pool)) throw new OptionError(`Error: Unknown redis_pool "${pool}" in redis_hook.`);
    } else {
      throw new OptionError(`Error: Invalid redis_hook option (${w}).`);
    }
  }
  if (w === null) throw new OptionError('Error: Empty redis_hook command in configuration.');
  const args: string[] = [];
  for (let a = t.next(); a !== null; a = t.next()) args.push(a);
  r.hooks.push({ event: event as RedisHookEvent, topic, pool, command: w, args });
}

/** `redis_cluster_nodes host:port ...`: the seed nodes of a Redis Cluster (one is enough, more survive its loss). */
function redisClusterNodes(st: ParseState, t: LineTokens, name: string): void {
  const r = st.config.redis;
  const nodes: { host: string; port: number }[] = [];
  for (let w = t.next(); w !== null; w = t.next()) {
    // host:port, [v6]:port
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(w);
    const port = m === null ? 0 : Number(m[3]);
    if (m === null || port < 1 || port > 65535) throw new OptionError(`Error: Invalid redis_cluster_nodes value (${w}): expected host:port.`);
    nodes.push({ host: m[1] ?? m[2], port });
  }
  if (nodes.length === 0) throw emptyValue(name);
  r.clusterNodes = [...(r.clusterNodes ?? []), ...nodes];
  r.enabled = true;
}

export const redisOptions: OptionTable = {
  redis_host: redisString('host', true),
  redis_port: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 1 || v > 65535) throw new OptionError(`Error: Invalid redis_port value (${v}).`);
    st.config.redis.port = v;
    st.config.redis.enabled = true;
    st.config.redis.addressSet = true;
  },
  redis_cluster_nodes: redisClusterNodes,
  redis_url: (st, t, name) => {
    const r = st.config.redis;
    const v = parseString(t, name, st.markSet(r, name));
    if (!isRedisUrl(v)) throw new OptionError(`Error: Invalid redis_url value (${v}).`);
    r.url = v;
    r.enabled = true;
    r.addressSet = true;
  },
  redis_password: redisString('password'),
  redis_db: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 0) throw new OptionError(`Error: Invalid redis_db value (${v}).`);
    st.config.redis.db = v;
  },
  redis_pool: (st, t, name) => {
    const r = st.config.redis;
    const pool = requireWord(t, name);
    const url = t.next();
    if (url === null) throw emptyValue(name);
    if (Object.hasOwn(r.pools, pool)) throw new OptionError(`Error: Duplicate redis_pool name "${pool}".`);
    if (!isRedisUrl(url)) throw new OptionError(`Error: Invalid redis_pool value (${url}).`);
    r.pools[pool] = url;
  },
  redis_node_name: redisString('nodeName'),
  redis_presence_key: redisString('presenceKey'),
  redis_event_channel: redisString('eventChannel'),
  redis_retain: (st, t, name) => {
    st.config.redis.retain = parseBool(t, name);
  },
  redis_store: redisStore,
  redis_message_expiry: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 0) throw new OptionError(`Error: Invalid redis_message_expiry value (${v}).`);
    st.config.redis.messageExpiry = v;
  },
  redis_hook: redisHook,
};

/** Scale-out (issue 15): `cluster true` joins the nodes sharing this Redis into one broker. */
export const clusterOptions: OptionTable = {
  cluster: (st, t, name) => {
    st.config.cluster.enabled = parseBool(t, name);
  },
  cluster_node_name: (st, t, name) => {
    const c = st.config.cluster;
    const v = parseString(t, name, st.markSet(c, name));
    if (/[\s*?[\]{}]/.test(v)) throw new OptionError(`Error: Invalid cluster_node_name value (${v}).`);
    c.nodeName = v;
  },
  cluster_lease: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 1 || v > 3600) throw new OptionError(`Error: Invalid cluster_lease value (${v}).`);
    st.config.cluster.lease = v;
  },
  cluster_max_held_messages: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 1) throw new OptionError(`Error: Invalid cluster_max_held_messages value (${v}).`);
    st.config.cluster.maxHeld = v;
  },
};
