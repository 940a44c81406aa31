/**
 * The integration's own conditional writes, which must be atomic, as small Lua scripts
 * sent with EVAL in the write pipeline (RedisLink maps a command named '@offline' etc. to
 * `EVAL <script> 0 <arguments...>`). EVAL rather than EVALSHA: a Redis that restarted or
 * ran SCRIPT FLUSH would answer NOSCRIPT to a pipelined EVALSHA, and these writes are
 * few (a disconnect, an acknowledgement in a queue store), never one per routed message.
 *
 *   @offline  PRESENCE CLIENTKEY ID TOKEN NOW         offline only if `conn` still holds TOKEN
 *   @stale    PRESENCE CLIENTKEY NODEKEY ID NODE NOW  offline only if the client's node is NODE
 *   @drop     TOPICKEY PREFIX                         delete a topic's stored messages (keep_latest)
 *   @ack      ACKEDKEY MSGID                          move an acknowledged position forward only
 *   @release  MSGKEY ID                               drop a queue claim if ID still holds it
 */
export const OWN_SCRIPTS: Record<string, string> = {
  '@offline': `
if redis.call('HGET', ARGV[2], 'conn') == ARGV[4] then
  redis.call('HSET', ARGV[1], ARGV[3], 'offline')
  redis.call('HSET', ARGV[2], 'state', '0', 'offline_at', ARGV[5])
end
return 0`,
  '@stale': `
if redis.call('HGET', ARGV[2], 'node') == ARGV[5] then
  redis.call('HSET', ARGV[1], ARGV[4], 'offline')
  redis.call('HSET', ARGV[2], 'state', '0', 'offline_at', ARGV[6])
end
redis.call('HDEL', ARGV[3], ARGV[4])
return 0`,
  '@drop': `
local ids = redis.call('ZRANGE', ARGV[1], 0, -1)
for j = 1, #ids do redis.call('DEL', ARGV[2] .. ids[j]) end
redis.call('DEL', ARGV[1])
return #ids`,
  '@ack': `
local cur = redis.call('GET', ARGV[1])
if (not cur) or cur < ARGV[2] then redis.call('SET', ARGV[1], ARGV[2]) end
return 0`,
  '@release': `
if redis.call('HGET', ARGV[1], 'owner') == ARGV[2] then redis.call('HDEL', ARGV[1], 'owner') end
return 0`,
};
