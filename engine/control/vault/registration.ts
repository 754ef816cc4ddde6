/**
 * Registration keys: `drctl site register <site>` makes one; an agent trades it once, with a CSR,
 * for its first client certificate. The key is `drk1.<site>.<secret>.<CA fingerprint>`: the secret
 * is 32 random bytes (only its SHA-256 is stored), the fingerprint pins the vault's CA so the agent
 * trusts the control plane before it holds any certificate. A key is single use (a Lua script marks
 * it used atomically) and expires (default 5 days); its record stays a week past expiry so that a
 * used or an expired key is refused with a reason of its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { vaultKeys } from './keys.ts';

export const DEFAULT_REGISTRATION_TTL_MS = 5 * 86_400_000;
const RECORD_AFTER_EXPIRY_MS = 7 * 86_400_000;

export interface RegistrationKey {
  key: string;
  site: string;
  expiresAt: string;
}

export interface ParsedRegistrationKey {
  site: string;
  secret: string;
  caFingerprint: string;
}

const CONSUME = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'unknown'} end
local record = cjson.decode(raw)
if record.usedAt then return {'used', record.site, tostring(record.usedAt)} end
if tonumber(record.expiresAt) <= tonumber(ARGV[1]) then return {'expired', record.site, tostring(record.expiresAt)} end
if record.site ~= ARGV[2] then return {'other-site', record.site} end
record.usedAt = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(record), 'KEEPTTL')
return {'ok', record.site}
`;

function hashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function parseRegistrationKey(key: string): ParsedRegistrationKey {
  const parts = key.trim().split('.');
  const [tag, site, secret, caFingerprint] = parts;
  if (parts.length !== 4 || tag !== 'drk1' || !site || !secret || !caFingerprint) {
    throw new DrError(
      'BAD_REGISTRATION_KEY',
      'the registration key is not one `drctl site register` prints (drk1.<site>.<secret>.<fingerprint>); copy it whole',
      { exitCode: 2, details: { status: 400 } },
    );
  }
  return { site, secret, caFingerprint };
}

export async function createRegistrationKey(
  redis: Redis,
  prefix: string,
  site: string,
  caFingerprint: string,
  ttlMs = DEFAULT_REGISTRATION_TTL_MS,
  now = Date.now(),
): Promise<RegistrationKey> {
  if (!/^[\w-]{1,100}$/.test(site)) {
    throw new DrError('BAD_SITE', `'${site}' is not a site name (letters, digits, - and _, up to 100)`, {
      exitCode: 2,
    });
  }
  if (!(ttlMs >= 1000)) {
    throw new DrError('BAD_EXPIRY', `a registration key must live at least 1s, not ${ttlMs}ms`, {
      exitCode: 2,
    });
  }
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = now + ttlMs;
  const keys = vaultKeys(prefix);
  const hash = hashOf(secret);
  await redis
    .multi()
    .set(
      keys.registration(hash),
      JSON.stringify({ site, expiresAt, createdAt: now }),
      'PX',
      ttlMs + RECORD_AFTER_EXPIRY_MS,
    )
    .sadd(keys.registrations(site), hash)
    .pexpire(keys.registrations(site), ttlMs + RECORD_AFTER_EXPIRY_MS, 'GT')
    .exec();
  // PEXPIRE GT sets nothing on a set without a TTL yet: the first key's lifetime is given here.
  await redis.pexpire(keys.registrations(site), ttlMs + RECORD_AFTER_EXPIRY_MS, 'NX');
  return {
    key: `drk1.${site}.${secret}.${caFingerprint}`,
    site,
    expiresAt: new Date(expiresAt).toISOString(),
  };
}

/**
 * A revoked site's registration keys not used yet: deleted, so none made before the revocation
 * registers an agent after it. Used ones stay (a second use still says "used"). The count deleted.
 */
export async function deleteUnusedRegistrationKeys(
  redis: Redis,
  prefix: string,
  site: string,
): Promise<number> {
  const keys = vaultKeys(prefix);
  const hashes = await redis.smembers(keys.registrations(site));
  let deleted = 0;
  for (const hash of hashes) {
    const raw = await redis.get(keys.registration(hash));
    if (raw === null) {
      await redis.srem(keys.registrations(site), hash);
      continue;
    }
    const record = JSON.parse(raw) as { usedAt?: unknown };
    if (record.usedAt !== undefined) continue;
    deleted += await redis.del(keys.registration(hash));
    await redis.srem(keys.registrations(site), hash);
  }
  return deleted;
}

/** Marks the key used, or throws the 401 that says why it cannot be (unknown, used, expired). */
export async function consumeRegistrationKey(
  redis: Redis,
  prefix: string,
  site: string,
  key: ParsedRegistrationKey,
  now = Date.now(),
): Promise<void> {
  const [status, recordSite, at] = (await redis.eval(
    CONSUME,
    1,
    vaultKeys(prefix).registration(hashOf(key.secret)),
    String(now),
    site,
  )) as [string, string?, string?];
  const refuse = (code: string, detail: string): never => {
    throw new DrError(code, detail, { exitCode: 2, details: { status: 401, site } });
  };
  switch (status) {
    case 'ok':
      return;
    case 'used':
      return refuse(
        'REGISTRATION_KEY_USED',
        `the registration key for site ${recordSite} was already used (${new Date(Number(at)).toISOString()}); a key registers one agent once: make another with \`drctl site register ${site}\``,
      );
    case 'expired':
      return refuse(
        'REGISTRATION_KEY_EXPIRED',
        `the registration key for site ${recordSite} expired at ${new Date(Number(at)).toISOString()}; make another with \`drctl site register ${site}\``,
      );
    case 'other-site':
      return refuse(
        'REGISTRATION_KEY_OTHER_SITE',
        `the registration key is for site ${recordSite}, not ${site}`,
      );
    default:
      return refuse(
        'REGISTRATION_KEY_UNKNOWN',
        `the vault knows no such registration key for site ${site}; make one with \`drctl site register ${site}\``,
      );
  }
}
