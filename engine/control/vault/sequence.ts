/**
 * Replay and staleness of agent messages, per site in Redis (shared by every control plane): the
 * site's current incarnation, the highest sequence number it sent, and a 1,024-bit window of the
 * numbers seen below it (an agent's requests run concurrently, so they may arrive out of order).
 * A hello with an incarnation never seen takes the site over (the latest hello wins, as sessions
 * do) once it is accepted: the gate only peeks at it (`peek`) and adopts it (`adoptIncarnation`)
 * when the hello's answer is a success, so a hello refused (SITE_HAS_AGENT, a live agent serves the
 * site) leaves the running agent's window alone. Any other message must carry the current
 * incarnation. Answers:
 * - `ok`: fresh; `new`: a new incarnation was adopted;
 * - `replay`: this incarnation already sent this number; `stale`: below the window;
 * - `replaced`: an incarnation the site had before (an older agent process, or a replay of it);
 * - `unknown`: an incarnation not seen that is not a hello (the agent should say hello).
 */
import type { Redis } from 'ioredis';
import { vaultKeys } from './keys.ts';

export const SEQUENCE_WINDOW = 1024;
const INCARNATIONS_TTL_S = 8 * 86_400;

const CHECK = `
local inc, seq, hello, w = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4])
local cur = redis.call('HGET', KEYS[1], 'inc')
if cur ~= inc then
  local seen = redis.call('SISMEMBER', KEYS[3], inc) == 1
  if seen then return 'replaced' end
  if cur and not hello then return 'unknown' end
  if ARGV[6] == '1' then return 'new' end
  redis.call('HSET', KEYS[1], 'inc', inc, 'max', seq)
  redis.call('DEL', KEYS[2])
  redis.call('SETBIT', KEYS[2], seq % w, 1)
  redis.call('SADD', KEYS[3], inc)
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  return 'new'
end
local max = tonumber(redis.call('HGET', KEYS[1], 'max'))
if seq > max then
  if seq - max >= w then
    redis.call('DEL', KEYS[2])
  else
    for s = max + 1, seq - 1 do redis.call('SETBIT', KEYS[2], s % w, 0) end
  end
  redis.call('SETBIT', KEYS[2], seq % w, 1)
  redis.call('HSET', KEYS[1], 'max', seq)
  return 'ok'
end
if seq <= max - w then return 'stale' end
if redis.call('SETBIT', KEYS[2], seq % w, 1) == 1 then return 'replay' end
return 'ok'
`;

export type SequenceStatus = 'ok' | 'new' | 'replay' | 'stale' | 'replaced' | 'unknown';

export async function checkSequence(
  redis: Redis,
  prefix: string,
  site: string,
  incarnation: string,
  seq: number,
  hello: boolean,
  peek = false,
): Promise<SequenceStatus> {
  const keys = vaultKeys(prefix);
  return (await redis.eval(
    CHECK,
    3,
    keys.sequence(site),
    keys.window(site),
    keys.incarnations(site),
    incarnation,
    String(seq),
    hello ? '1' : '0',
    String(SEQUENCE_WINDOW),
    String(INCARNATIONS_TTL_S),
    peek ? '1' : '0',
  )) as SequenceStatus;
}

/** Take a new incarnation's hello into the window once the hello was accepted (see above). */
export function adoptIncarnation(
  redis: Redis,
  prefix: string,
  site: string,
  incarnation: string,
  seq: number,
): Promise<SequenceStatus> {
  return checkSequence(redis, prefix, site, incarnation, seq, true);
}
