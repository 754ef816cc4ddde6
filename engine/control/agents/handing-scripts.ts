/**
 * The Lua scripts of handing.ts. Each touches the keys of one site only (`{agent:<site>}`: one
 * Redis Cluster slot) and takes a whole tick's or post's worth of units in one call.
 */

/**
 * Keep each unit (KEYS[3..], ARGV[6 + 2i - 1] its id, ARGV[6 + 2i] its JSON), unless its report is
 * in: then that report is its answer. A unit goes straight to the session ARGV[1] (a poll waiting
 * at the control plane that hands it, at most ARGV[2] units) when that session is the site's
 * current one: 'T'; else on the ready list, and the site's polls are woken: 'L'.
 */
export const HAND = `
local direct = ARGV[1]
local max = tonumber(ARGV[2])
if direct ~= '' and redis.call('HGET', KEYS[1], 'session') ~= direct then direct = '' end
local out = {}
local listed = 0
local given = 0
for i = 3, #KEYS do
  local key = KEYS[i]
  local r = redis.call('HGET', key, 'r')
  if r then
    out[#out + 1] = r
  else
    local n = 6 + 2 * (i - 2)
    redis.call('HSET', key, 'u', ARGV[n])
    if direct ~= '' and given < max then
      redis.call('HSET', key, 's', direct, 'h', ARGV[3])
      given = given + 1
      out[#out + 1] = 'T'
    else
      redis.call('HSETNX', key, 's', '')
      redis.call('HSETNX', key, 'h', '0')
      redis.call('RPUSH', KEYS[2], ARGV[n - 1])
      listed = listed + 1
      out[#out + 1] = 'L'
    end
    redis.call('EXPIRE', key, ARGV[4])
  end
end
if listed > 0 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return out
`;

/** Check the session, record it heard from, and pop up to ARGV[3] units handed to it now. */
export const TAKE = `
local current = redis.call('HGET', KEYS[1], 'session')
if not current then return {'none'} end
if current ~= ARGV[1] then return {'other'} end
redis.call('HSET', KEYS[1], 'heartbeatAt', ARGV[2])
local out = {'ok'}
local seen = {}
local max = tonumber(ARGV[3])
while #out - 1 < max do
  local id = redis.call('LPOP', KEYS[2])
  if not id then break end
  if not seen[id] then
    seen[id] = true
    local key = ARGV[4] .. id
    local u = redis.call('HGET', key, 'u')
    if u and redis.call('HEXISTS', key, 'r') == 0 then
      redis.call('HSET', key, 's', ARGV[1], 'h', ARGV[2])
      out[#out + 1] = u
    end
  end
end
return out
`;

/**
 * Record reports for the session ARGV[1], all or none: the session must be the site's current one
 * (recorded heard from), and every unit (KEYS[2..]; the first ARGV[5] have a report, ARGV[5 + i],
 * the others are only checked) handed to it. Returns the session's status ('ok', 'none', 'other'),
 * then one per unit: 'gone' (no such unit), 'other' (handed to another session), 'dup' (its report
 * is in already) or 'new'. Only when none is 'gone' or 'other' are the new reports recorded, and
 * their ids published once (ARGV[3], "<site> <id> <id> ...").
 */
export const RECORD = `
local current = redis.call('HGET', KEYS[1], 'session')
if not current then return {'none'} end
if current ~= ARGV[1] then return {'other'} end
redis.call('HSET', KEYS[1], 'heartbeatAt', ARGV[2])
local out = {'ok'}
local bad = false
for i = 2, #KEYS do
  local s = redis.call('HGET', KEYS[i], 's')
  if not s then
    out[i] = 'gone'
    bad = true
  elseif s ~= ARGV[1] then
    out[i] = 'other'
    bad = true
  elseif redis.call('HEXISTS', KEYS[i], 'r') == 1 then
    out[i] = 'dup'
  else
    out[i] = 'new'
  end
end
if bad then return out end
local n = tonumber(ARGV[5])
local ids = {}
for i = 2, n + 1 do
  if out[i] == 'new' then
    redis.call('HSET', KEYS[i], 'r', ARGV[5 + i - 1])
    ids[#ids + 1] = ARGV[5 + n + i - 1]
  end
end
if #ids > 0 then redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. table.concat(ids, ' ')) end
return out
`;

/** Put a unit back on the ready list, unless its report is in or it is gone. */
export const REHAND = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'r') == 1 then return 0 end
redis.call('HSET', KEYS[1], 's', '', 'h', '0')
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`;

/**
 * What the periodic check needs of each unit (KEYS), without their bodies: 'm' (gone), 'r' (its
 * report is in) or '<session>|<handed at>'.
 */
export const STATES = `
local out = {}
for i = 1, #KEYS do
  local s, h, r = unpack(redis.call('HMGET', KEYS[i], 's', 'h', 'r'))
  if r then out[i] = 'r'
  elseif not s then out[i] = 'm'
  else out[i] = s .. '|' .. (h or '0') end
end
return out
`;
