/**
 * The audit log across the vault's backup and its folder (issue 12): `drctl vault backup` carries
 * the log's signing key (sealed) and genesis, so a vault restored from it still verifies its log;
 * and the vault folder's copy of the genesis makes deleting the key, the genesis and the log from
 * Redis together fail `drctl audit --verify`, where a new empty log would otherwise verify.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { auditKeyOf, auditKeysOf, createAuditLog } from '../../engine/control/audit/index.ts';
import { genesisCopyFile } from '../../engine/control/vault/audit-key.ts';
import { openAuditSigner, vaultKeys } from '../../engine/control/vault/index.ts';
import { drctl } from '../cli/support.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';

const redis: Redis = testRedisClient();
afterAll(() => redis.disconnect());
const temp = useTempDirs();
const env = { REDIS_URL: testRedisUrl() };

/** A vault with three entries in its log. */
async function filledVault(label: string): Promise<{ prefix: string; dir: string; on: string[] }> {
  const prefix = uniquePrefix(label);
  const dir = temp('drorch-vault-');
  await ensureVault({ redis, prefix, dir });
  const log = createAuditLog(redis, prefix, await openAuditSigner({ redis, prefix, dir }));
  for (let i = 1; i <= 3; i += 1) await log.append({ actor: `a${i}`, action: 'read', outcome: 'accepted' });
  return { prefix, dir, on: ['--prefix', prefix, '--vault-dir', dir] };
}

const verify = async (on: string[]) => await drctl(['audit', '--verify', ...on, '--json'], { env });

describe("the vault's backup and the audit log", { timeout: 120_000 }, () => {
  it('restores the audit key with the CA: the restored vault verifies its log', async () => {
    const { prefix, dir, on } = await filledVault('audit-backup');
    const file = join(temp('drorch-backup-'), 'vault.json');
    const backup = await drctl(['vault', 'backup', '--out', file, '--prefix', prefix, '--json'], { env });
    expect(backup.code, backup.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { auditKey?: string; auditGenesis?: string };
    // Sealed: no key in clear in the backup.
    expect(saved.auditKey).toMatch(/^v1\./);
    expect(readFileSync(file, 'utf8')).not.toContain('PRIVATE KEY');
    expect(saved.auditGenesis).toBe(await redis.get(auditKeysOf(prefix).genesis));
    // The vault's keys lost (the CA record and the audit key), the log kept: not verifiable.
    await redis.del(vaultKeys(prefix).ca, auditKeyOf(prefix));
    const lost = await verify(on);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain("the audit log's signing key");
    const restore = await drctl(['vault', 'restore', '--from', file, ...on], { env });
    expect(restore.code, restore.stderr).toBe(0);
    const verified = await verify(on);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, entries: 3 });
    expect(dir).not.toBe('');
  });

  it('refuses to restore an audit key over another one without --force', async () => {
    const one = await filledVault('audit-backup-one');
    const file = join(temp('drorch-backup-'), 'vault.json');
    expect((await drctl(['vault', 'backup', '--out', file, '--prefix', one.prefix], { env })).code).toBe(0);
    // Another key under the prefix, sealed with the same key file (as a vault made anew would be).
    const other = await filledVault('audit-backup-two');
    await redis.set(auditKeyOf(one.prefix), 'v1.other');
    const refused = await drctl(['vault', 'restore', '--from', file, ...one.on], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('holds another audit log key than the backup');
    expect(other.prefix).not.toBe(one.prefix);
  });

  it('says the log is gone, not ok, when Redis lost everything and the vault was restored', async () => {
    const { prefix, dir, on } = await filledVault('audit-backup-wiped');
    const file = join(temp('drorch-backup-'), 'vault.json');
    expect((await drctl(['vault', 'backup', '--out', file, '--prefix', prefix], { env })).code).toBe(0);
    const keys = await redis.keys(`${prefix}:*`);
    await redis.del(...keys);
    expect((await drctl(['vault', 'restore', '--from', file, ...on], { env })).code).toBe(0);
    // Key and genesis are back, the entries are not (they live in Redis's backup): --verify says so.
    const verified = await verify(on);
    expect(verified.code).toBe(1);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('the signed head is missing'),
    });
    expect(dir).not.toBe('');
  });
});

describe("the vault folder's copy of the log's genesis", { timeout: 120_000 }, () => {
  it('is written at vault init, as Redis holds it', async () => {
    const { prefix, dir } = await filledVault('audit-copy');
    const copies = JSON.parse(readFileSync(genesisCopyFile(dir), 'utf8')) as Record<string, string>;
    expect(copies[prefix]).toBe(await redis.get(auditKeysOf(prefix).genesis));
  });

  it('makes --verify fail when the key, the genesis and the log were deleted together', async () => {
    const { prefix, on } = await filledVault('audit-all-gone');
    const keys = auditKeysOf(prefix);
    await redis.del(auditKeyOf(prefix), keys.genesis, keys.head, keys.stream);
    const verified = await verify(on);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain('is gone from Redis with its signing key and genesis');
    expect(verified.stderr).not.toMatch(/\n\s+at /);
    // Nothing was made anew: the next try says the same.
    expect(await redis.exists(auditKeyOf(prefix), keys.genesis)).toBe(0);
  });

  it('is copied into a vault folder made before it (the next open), and then guards it', async () => {
    const { prefix, dir, on } = await filledVault('audit-backfill');
    const { rmSync } = await import('node:fs');
    rmSync(genesisCopyFile(dir));
    expect((await verify(on)).code).toBe(0);
    const copies = JSON.parse(readFileSync(genesisCopyFile(dir), 'utf8')) as Record<string, string>;
    expect(copies[prefix]).toBe(await redis.get(auditKeysOf(prefix).genesis));
  });
});
