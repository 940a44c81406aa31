/**
 * All of a turn's writes go to Redis as ONE script call: ARGV is a flat list of commands,
 * each as <argument count> <name> <arguments...>, which the script runs in order with
 * redis.pcall. One ioredis command per event-loop turn instead of one per write keeps the
 * cost of Redis on the message path small (issue 7, Speed: a promise and a command object
 * per message made QoS 0 routing with a publish hook several times slower).
 *
 * Each argument stays one Redis argument: the script passes ARGV entries through
 * unchanged, nothing is ever parsed out of a string, so a payload cannot become a command.
 *
 * Names starting with '@' are the integration's own conditional writes, which must be
 * atomic and cannot be nested EVALs inside the batch:
 *   @offline  PRESENCE CLIENTKEY ID TOKEN NOW   offline only if `conn` still holds TOKEN
 *   @stale    PRESENCE CLIENTKEY NODEKEY ID NODE NOW  offline only if the client's node is NODE
 *   @drop     TOPICKEY PREFIX                   delete a topic's stored messages (keep_latest)
 *   @ack      ACKEDKEY MSGID                    move an acknowledged position forward only
 *   @release  MSGKEY ID                         drop a queue claim if ID still holds it
 * The script returns {errors, first error messages as "NAME: message"...}.
 */
export const BATCH_SCRIPT = `
local function offline(presence, ckey, id, token, now)
  if redis.call('HGET', ckey, 'conn') == token then
    redis.call('HSET', presence, id, 'offline')
    redis.call('HSET', ckey, 'state', '0', 'offline_at', now)
  end
  return 0
end
local function stale(presence, ckey, nkey, id, node, now)
  if redis.call('HGET', ckey, 'node') == node then
    redis.call('HSET', presence, id, 'offline')
    redis.call('HSET', ckey, 'state', '0', 'offline_at', now)
  end
  redis.call('HDEL', nkey, id)
  return 0
end
local function drop(tkey, prefix)
  local ids = redis.call('ZRANGE', tkey, 0, -1)
  for j = 1, #ids do redis.call('DEL', prefix .. ids[j]) end
  redis.call('DEL', tkey)
  return #ids
end
local function ack(akey, msgid)
  local cur = redis.call('GET', akey)
  if (not cur) or cur < msgid then redis.call('SET', akey, msgid) end
  return 0
end
local function release(mkey, id)
  if redis.call('HGET', mkey, 'owner') == id then redis.call('HDEL', mkey, 'owner') end
  return 0
end
local own = { ['@offline'] = offline, ['@stale'] = stale, ['@drop'] = drop, ['@ack'] = ack, ['@release'] = release }
local i = 1
local n = #ARGV
local nerr = 0
local errs = {}
while i <= n do
  local argc = tonumber(ARGV[i])
  local name = ARGV[i + 1]
  local s = i + 2
  local e = i + 1 + argc
  local f = own[name]
  local ok, r
  if f then
    ok, r = pcall(f, unpack(ARGV, s, e))
    if not ok then r = { err = tostring(r) } end
  else
    r = redis.pcall(name, unpack(ARGV, s, e))
  end
  if type(r) == 'table' and r.err then
    nerr = nerr + 1
    if #errs < 4 then errs[#errs + 1] = name .. ': ' .. r.err end
  end
  i = e + 1
end
local out = { nerr }
for j = 1, #errs do out[#out + 1] = errs[j] end
return out`;
