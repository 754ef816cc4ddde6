/**
 * The one Lua script that applies an inventory batch: the sequence check and every write of the
 * batch happen atomically, so a reader never sees half a batch and a retried batch is applied once.
 *
 * KEYS: meta, vms, pts, vms:next, pts:next, refresh
 * ARGV: kind, session, seq, part, parts, hostTimeMs, nowMs, hostsJson|'-', networksJson|'-', n,
 *       then n × (name, vm record, points record | '-' for unchanged), then the removed names.
 * Returns {'ok'|'dup'|'resync', reason, refreshStillAsked (0|1)}.
 */
export const APPLY_BATCH = `
local meta, vms, pts, vmsNext, ptsNext, refresh = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local kind, session = ARGV[1], ARGV[2]
local seq, part, parts = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local hostTime, now, hosts, nets = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local n = tonumber(ARGV[10])
local m = redis.call('HMGET', meta, 'session', 'seq', 'pending', 'complete')
local same = m[1] == session
local last = tonumber(m[2] or '0')
if same and seq == last then return {'dup', 'already applied', redis.call('EXISTS', refresh)} end

local function write(vkey, pkey)
  for i = 0, n - 1 do
    local at = 11 + i * 3
    redis.call('HSET', vkey, ARGV[at], ARGV[at + 1])
    if ARGV[at + 2] ~= '-' then redis.call('HSET', pkey, ARGV[at], ARGV[at + 2]) end
  end
end

if kind == 'full' then
  if part == 0 then
    redis.call('DEL', vmsNext, ptsNext)
    redis.call('HSET', meta, 'session', session, 'phosts', hosts, 'pnets', nets, 'pasof', hostTime)
  elseif not same or seq ~= last + 1 or m[3] ~= (part - 1) .. '/' .. parts then
    return {'resync', 'part ' .. part .. ' of a full whose previous part the vault does not have', 0}
  end
  write(vmsNext, ptsNext)
  if part == parts - 1 then
    if redis.call('EXISTS', vmsNext) == 1 then redis.call('RENAME', vmsNext, vms) else redis.call('DEL', vms) end
    if redis.call('EXISTS', ptsNext) == 1 then redis.call('RENAME', ptsNext, pts) else redis.call('DEL', pts) end
    local p = redis.call('HMGET', meta, 'phosts', 'pnets', 'pasof')
    redis.call('HSET', meta, 'hosts', p[1], 'networks', p[2], 'asof', p[3], 'at', now, 'fullat', now, 'complete', '1')
    redis.call('HDEL', meta, 'pending', 'phosts', 'pnets', 'pasof')
    redis.call('DEL', refresh)
  else
    redis.call('HSET', meta, 'pending', part .. '/' .. parts)
    -- A reporter that dies half-way through a full leaves no staging behind for long.
    redis.call('PEXPIRE', vmsNext, 600000)
    redis.call('PEXPIRE', ptsNext, 600000)
  end
else
  if m[4] ~= '1' then return {'resync', 'the vault holds no full inventory of this site', 0} end
  if m[3] then return {'resync', 'a full inventory is half-way through', 0} end
  if not same then return {'resync', 'changes from another reporter session than the last full', 0} end
  if seq ~= last + 1 then
    return {'resync', 'batch ' .. seq .. ' after ' .. last .. ': the vault missed a batch', 0}
  end
  write(vms, pts)
  for i = 11 + n * 3, #ARGV do
    redis.call('HDEL', vms, ARGV[i])
    redis.call('HDEL', pts, ARGV[i])
  end
  if hosts ~= '-' then redis.call('HSET', meta, 'hosts', hosts) end
  if nets ~= '-' then redis.call('HSET', meta, 'networks', nets) end
  redis.call('HSET', meta, 'asof', hostTime, 'at', now)
  redis.call('DEL', refresh)
end
redis.call('HSET', meta, 'seq', seq)
return {'ok', '', redis.call('EXISTS', refresh)}
`;
