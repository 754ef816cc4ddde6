/**
 * Lua scripts: each runs atomically on the Redis server, so "all or nothing" holds against any
 * number of concurrent acquirers without a retry loop. Holders are JSON; the scripts only decode
 * the values they find, so an uncontended acquire costs one GET and one SET per key.
 */

/**
 * KEYS: the plan lock, then every VM lock. ARGV: execution, holder JSON, TTL in ms (0: none).
 * Returns `{acquired}` when every key is free or already held by this execution (re-entrant: a
 * resumed execution takes its own locks again), else `{-1, i1, holder1, i2, holder2, ...}` with the
 * 1-based KEYS index and holder of each conflicting lock, having written nothing.
 */
export const ACQUIRE_SCRIPT = `
local execution = ARGV[1]
local holder = ARGV[2]
local ttl = tonumber(ARGV[3])
local conflicts = {-1}
local mine = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local ok, h = pcall(cjson.decode, v)
    if ok and type(h) == 'table' and h.execution == execution then
      mine[i] = true
    else
      conflicts[#conflicts + 1] = i
      conflicts[#conflicts + 1] = v
    end
  end
end
if #conflicts > 1 then
  return conflicts
end
local acquired = 0
for i = 1, #KEYS do
  if mine[i] then
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  else
    if ttl > 0 then
      redis.call('SET', KEYS[i], holder, 'PX', ttl)
    else
      redis.call('SET', KEYS[i], holder)
    end
    acquired = acquired + 1
  end
end
return {acquired}
`;

/**
 * KEYS: locks. ARGV: execution. Removes the expiry of the locks this execution holds (a submit
 * takes its locks with a short TTL, then keeps them once the execution is stored); never creates a
 * lock, so it cannot bring back one that a fast execution already released. Returns how many.
 */
export const PERSIST_SCRIPT = `
local kept = 0
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local ok, h = pcall(cjson.decode, v)
    if ok and type(h) == 'table' and h.execution == ARGV[1] then
      redis.call('PERSIST', KEYS[i])
      kept = kept + 1
    end
  end
end
return kept
`;

/** KEYS: locks. ARGV: execution. Deletes only the locks this execution holds; returns how many. */
export const RELEASE_SCRIPT = `
local released = 0
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local ok, h = pcall(cjson.decode, v)
    if ok and type(h) == 'table' and h.execution == ARGV[1] then
      redis.call('DEL', KEYS[i])
      released = released + 1
    end
  end
end
return released
`;

/** KEYS: locks. Deletes them whoever holds them; returns `{i1, holder1, ...}` of what was held. */
export const FORCE_RELEASE_SCRIPT = `
local previous = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    redis.call('DEL', KEYS[i])
    previous[#previous + 1] = i
    previous[#previous + 1] = v
  end
end
return previous
`;

/**
 * KEYS: the failed-over hash. ARGV: plan ('' for any plan), then VM names. Deletes the records of
 * those VMs that the plan wrote (or every record when plan is ''); returns how many.
 */
export const CLEAR_FAILED_OVER_SCRIPT = `
local cleared = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local ok, r = pcall(cjson.decode, v)
    if ARGV[1] == '' or (ok and type(r) == 'table' and r.plan == ARGV[1]) then
      redis.call('HDEL', KEYS[1], ARGV[i])
      cleared = cleared + 1
    end
  end
end
return cleared
`;
