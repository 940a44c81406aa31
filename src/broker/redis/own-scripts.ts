/**
 * The integration's own conditional writes, which must be atomic, as small Lua scripts
 * sent with EVAL in the write pipeline (RedisLink maps a command named '@offline' etc. to
 * `EVAL <script> <number of keys> <arguments...>`, the keys first). EVAL rather than
 * EVALSHA: a Redis that restarted or ran SCRIPT FLUSH would answer NOSCRIPT to a
 * pipelined EVALSHA, and these writes are few (a disconnect, an acknowledgement in a
 * queue store), never one per routed message. The keys are declared (KEYS), so that a
 * Redis Cluster runs the script on the master of their slot; the keys of one script
 * share a slot there (keys.ts, hash tags), and so do the mqtt:msg:<id> keys @drop builds.
 *
 *   @offline  PRESENCE CLIENTKEY | ID TOKEN NOW         offline only if `conn` still holds TOKEN
 *   @stale    PRESENCE CLIENTKEY NODEKEY | ID NODE NOW  offline only if the client's node is NODE
 *   @drop     TOPICKEY | PREFIX                         delete a topic's stored messages (keep_latest)
 *   @ack      ACKEDKEY | MSGID                          move an acknowledged position forward only
 *   @release  MSGKEY | ID                               drop a queue claim if ID still holds it
 */
export const OWN_SCRIPTS: Record<string, string> = {
  '@offline': `
if redis.call('HGET', KEYS[2], 'conn') == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], 'offline')
  redis.call('HSET', KEYS[2], 'state', '0', 'offline_at', ARGV[3])
end
return 0`,
  '@stale': `
if redis.call('HGET', KEYS[2], 'node') == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], 'offline')
  redis.call('HSET', KEYS[2], 'state', '0', 'offline_at', ARGV[3])
end
redis.call('HDEL', KEYS[3], ARGV[1])
return 0`,
  '@drop': `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for j = 1, #ids do redis.call('DEL', ARGV[1] .. ids[j]) end
redis.call('DEL', KEYS[1])
return #ids`,
  '@ack': `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`,
  '@release': `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('HDEL', KEYS[1], 'owner') end
return 0`,
};

/** How many of an own script's arguments are keys (they come first). */
export const OWN_SCRIPT_KEYS: Record<string, number> = { '@offline': 2, '@stale': 3, '@drop': 1, '@ack': 1, '@release': 1 };
