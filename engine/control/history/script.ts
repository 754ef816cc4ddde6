/**
 * The write path, one Lua script for a chunk of VMs: atomic per call (two control-plane processes
 * folding into the same bucket cannot lose each other's worst value), and one round trip for
 * thousands of samples.
 *
 *   KEYS[k]       one VM's ring (layout.ts)
 *   ARGV[1..4]    TTL ms, ring size, site offset, site field size
 *   ARGV[4 + k]   that VM's update (batch.ts): site length byte, site, then per slot 6 bytes:
 *                 slot, head (stamp << 2 | health), RPO code, each uint16 big-endian
 *
 * Per slot: an empty slot or one from an older bucket is overwritten; the same bucket folds by max
 * (head: the stamps are equal, so the max is the worst health; RPO codes sort like RPOs); a slot
 * holding a newer bucket (stamp up to half the stamp cycle ahead) is left alone and reported.
 * Returns the superseded slots as (k - 1) * 288 + slot.
 */
import { SERIES_BUCKETS, STAMP_MODULUS } from './buckets.ts';

export const RECORD_SCRIPT = `
local ttl = ARGV[1]
local size = tonumber(ARGV[2])
local siteOffset = tonumber(ARGV[3])
local siteField = tonumber(ARGV[4])
local superseded = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  local update = ARGV[4 + k]
  if redis.call('STRLEN', key) ~= size then
    -- created at full size once: SETRANGE never grows it (a grown string would get spare room)
    redis.call('SET', key, string.rep('\\0', size))
  end
  local siteLength = string.byte(update, 1)
  local current = false
  for pos = 2 + siteLength, #update, 6 do
    local s1, s2, h1, h2, r1, r2 = string.byte(update, pos, pos + 5)
    local slot = s1 * 256 + s2
    local head = h1 * 256 + h2
    local rpo = r1 * 256 + r2
    local offset = slot * 4
    local c1, c2, c3, c4 = string.byte(redis.call('GETRANGE', key, offset, offset + 3), 1, 4)
    local held = c1 * 256 + c2
    local write = true
    local fresh = true
    if held % 4 ~= 0 then
      local ahead = (math.floor(held / 4) - math.floor(head / 4)) % ${STAMP_MODULUS}
      if ahead == 0 then
        local heldRpo = c3 * 256 + c4
        write = head > held or rpo > heldRpo
        head = math.max(held, head)
        rpo = math.max(heldRpo, rpo)
      elseif ahead < ${STAMP_MODULUS / 2} then
        write = false
        fresh = false
        superseded[#superseded + 1] = (k - 1) * ${SERIES_BUCKETS} + slot
      end
    end
    current = current or fresh
    if write then
      redis.call('SETRANGE', key, offset,
        string.char(math.floor(head / 256), head % 256, math.floor(rpo / 256), rpo % 256))
    end
  end
  if current then
    redis.call('SETRANGE', key, siteOffset,
      string.sub(update, 1, 1 + siteLength) .. string.rep('\\0', siteField - 1 - siteLength))
  end
  redis.call('PEXPIRE', key, ttl)
end
return superseded
`;
