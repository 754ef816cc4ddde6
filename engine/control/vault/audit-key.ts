/**
 * The audit log's signing key (an ECDSA P-256 key, ../audit/signer.ts), kept in the vault's Redis
 * sealed under the vault's key file as the CA key is (sealed.ts, bound to `audit-key:<prefix>`):
 * Redis, its AOF and its backups never hold it in clear. Made at `drctl vault init` with the log's
 * genesis marker (../audit/log.ts writeAuditGenesis); a key left in clear by an earlier version is
 * sealed in place when a control plane opens it.
 *
 * A copy of the genesis sits in the vault folder (`audit-genesis.json`, one entry per prefix):
 * with it, deleting the key, the genesis and the log from Redis together is refused
 * (AUDIT_LOG_GONE) instead of a new, empty log starting that verifies.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { type AuditSigner, auditKeyOf, auditKeysOf, ecdsaSigner, writeAuditGenesis } from '../audit/index.ts';
import { readKek, seal, unseal } from './sealed.ts';

const boundTo = (prefix: string): string => `audit-key:${prefix}`;

function der(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}

/** The vault folder's copy of each prefix's audit genesis. */
export const genesisCopyFile = (dir: string): string => join(dir, 'audit-genesis.json');

function readGenesisCopies(dir: string): Record<string, string> {
  const file = genesisCopyFile(dir);
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return Object.fromEntries(
        Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      );
    }
  } catch {
    // fall through: a file that is not ours is refused by name
  }
  throw new DrError('BAD_GENESIS_COPY', `${file} is not the audit genesis copy the vault writes`, {
    exitCode: 2,
  });
}

/**
 * The genesis of `prefix`'s log as Redis holds it, copied into the vault folder: kept once there,
 * unless `replace` (`drctl vault init`, a new vault on purpose, as `drctl up` makes at each start).
 */
async function copyGenesis(redis: Redis, prefix: string, dir: string, replace = false): Promise<void> {
  const raw = await redis.get(auditKeysOf(prefix).genesis);
  if (raw === null) return;
  const copies = readGenesisCopies(dir);
  if (copies[prefix] === raw || (copies[prefix] !== undefined && !replace)) return;
  const file = genesisCopyFile(dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...copies, [prefix]: raw }, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/**
 * Refused when the vault folder holds a genesis of `prefix`'s log that Redis no longer has, with
 * no key and no log left: the three were deleted together (or Redis was lost); only its backup
 * brings the log back, and a new empty log would hide that.
 */
export async function refuseLostLog(redis: Redis, prefix: string, dir: string): Promise<void> {
  const copy = readGenesisCopies(dir)[prefix];
  if (copy === undefined) return;
  const keys = auditKeysOf(prefix);
  if ((await redis.exists(auditKeyOf(prefix), keys.genesis)) > 0) return;
  let at = '?';
  try {
    at = String((JSON.parse(copy) as { at?: unknown }).at ?? '?');
  } catch {
    // the copy's time is for the message only
  }
  throw new DrError(
    'AUDIT_LOG_GONE',
    `the audit log of prefix '${prefix}' (begun ${at}, its genesis copied in ${genesisCopyFile(dir)}) is gone from Redis with its signing key and genesis: it was deleted or Redis was lost; restore Redis from its backup (\`drctl vault restore\` puts the key and the genesis back), or move ${genesisCopyFile(dir)} aside to start a new log on purpose`,
    { exitCode: 1 },
  );
}

/**
 * A new audit key and the log's genesis, when the vault has none (`drctl vault init`); `dir`: the
 * genesis copied there, replacing the copy of an earlier vault of the prefix.
 */
export async function createAuditKey(
  redis: Redis,
  prefix: string,
  kek: Buffer,
  dir?: string,
): Promise<AuditSigner> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await redis.set(auditKeyOf(prefix), seal(kek, der(privateKey), boundTo(prefix)), 'NX');
  const signer = await openSealed(redis, prefix, kek);
  await writeAuditGenesis(redis, prefix, signer);
  if (dir !== undefined) await copyGenesis(redis, prefix, dir, true);
  return signer;
}

/** Throws unless `sealed` is `prefix`'s audit key sealed under `kek` (a backup's, before restoring it). */
export function openSealedAuditKey(kek: Buffer, prefix: string, sealed: string): void {
  createPrivateKey({ key: unseal(kek, sealed, boundTo(prefix)), format: 'der', type: 'pkcs8' });
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
    // Nothing left at all, but the vault folder saw this log begin: deleted, never re-keyed.
    await refuseLostLog(redis, prefix, options.dir);
    return await createAuditKey(redis, prefix, kek, options.dir);
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
    await copyGenesis(redis, prefix, options.dir);
    return signer;
  }
  const signer = await openSealed(redis, prefix, kek);
  // A vault made before the folder kept the genesis: copied now.
  await copyGenesis(redis, prefix, options.dir);
  return signer;
}
