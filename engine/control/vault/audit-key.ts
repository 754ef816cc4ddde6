/**
 * The audit log's signing key (an ECDSA P-256 key, ../audit/signer.ts), kept in the vault's Redis
 * sealed under the vault's key file as the CA key is (sealed.ts, bound to `audit-key:<prefix>`):
 * Redis, its AOF and its backups never hold it in clear. Made at `drctl vault init` with the log's
 * genesis marker (../audit/log.ts writeAuditGenesis); a key left in clear by an earlier version is
 * sealed in place when a control plane opens it.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { type AuditSigner, auditKeyOf, auditKeysOf, ecdsaSigner, writeAuditGenesis } from '../audit/index.ts';
import { readKek, seal, unseal } from './sealed.ts';

const boundTo = (prefix: string): string => `audit-key:${prefix}`;

function der(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}

/** A new audit key and the log's genesis, when the vault has none. */
export async function createAuditKey(redis: Redis, prefix: string, kek: Buffer): Promise<AuditSigner> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await redis.set(auditKeyOf(prefix), seal(kek, der(privateKey), boundTo(prefix)), 'NX');
  const signer = await openSealed(redis, prefix, kek);
  await writeAuditGenesis(redis, prefix, signer);
  return signer;
}

async function openSealed(redis: Redis, prefix: string, kek: Buffer): Promise<AuditSigner> {
  const raw = await redis.get(auditKeyOf(prefix));
  if (raw === null) throw missing(prefix);
  return ecdsaSigner(
    createPrivateKey({ key: unseal(kek, raw, boundTo(prefix)), format: 'der', type: 'pkcs8' }),
  );
}

function missing(prefix: string): DrError {
  return new DrError(
    'AUDIT_KEY_MISSING',
    `the audit log's signing key (${auditKeyOf(prefix)}) is gone from Redis though the log exists: it cannot be signed or verified; restore Redis from its backup`,
    { exitCode: 1 },
  );
}

/** The vault's audit signer, opened with the key file of `dir`. */
export async function openAuditSigner(options: {
  redis: Redis;
  prefix: string;
  dir: string;
}): Promise<AuditSigner> {
  const { redis, prefix } = options;
  const kek = readKek(join(options.dir, 'vault.key'));
  const raw = await redis.get(auditKeyOf(prefix));
  if (raw === null) {
    // A vault made before audit keys were made at init, never used: made now. A log that exists
    // without its key is not re-keyed (that would hide its removal).
    const keys = auditKeysOf(prefix);
    if ((await redis.exists(keys.genesis, keys.head, keys.stream)) > 0) throw missing(prefix);
    return await createAuditKey(redis, prefix, kek);
  }
  if (raw.startsWith('-----BEGIN')) {
    // Left in clear by an earlier version: sealed in place (only if no one changed it meanwhile).
    const key = createPrivateKey(raw);
    await redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end return 1",
      1,
      auditKeyOf(prefix),
      raw,
      seal(kek, der(key), boundTo(prefix)),
    );
    const signer = ecdsaSigner(key);
    await writeAuditGenesis(redis, prefix, signer);
    return signer;
  }
  return await openSealed(redis, prefix, kek);
}
