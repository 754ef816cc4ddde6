/**
 * The audit log's signing key and its start (issue 12): the key sits in Redis sealed under the
 * vault's key file, never in clear; the log's genesis marker makes an emptied or re-keyed log fail
 * `--verify`; and what the CLI does straight on Redis (token create/revoke, site register/revoke,
 * vault rotate) is on the record.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { auditKeyOf, createAuditLog } from '../../engine/control/audit/index.ts';
import { openAuditSigner } from '../../engine/control/vault/index.ts';
import { drctl } from '../cli/support.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';

const redis: Redis = testRedisClient();
afterAll(() => redis.disconnect());
const temp = useTempDirs();

async function vault(label: string): Promise<{ prefix: string; dir: string }> {
  const prefix = uniquePrefix(label);
  const dir = temp('drorch-vault-');
  await ensureVault({ redis, prefix, dir });
  return { prefix, dir };
}

async function filled(prefix: string, dir: string) {
  const log = createAuditLog(redis, prefix, await openAuditSigner({ redis, prefix, dir }));
  for (let i = 1; i <= 3; i += 1) await log.append({ actor: `a${i}`, action: 'read', outcome: 'accepted' });
  return log;
}

describe("the audit log's key", () => {
  it('is sealed in Redis: no PEM, no DER key there, and it opens only with the vault key file', async () => {
    const { prefix, dir } = await vault('audit-sealed');
    const stored = (await redis.get(auditKeyOf(prefix))) ?? '';
    expect(stored).toMatch(/^v1\./);
    expect(stored).not.toContain('BEGIN');
    const other = await vault('audit-other');
    await expect(openAuditSigner({ redis, prefix, dir: other.dir })).rejects.toMatchObject({
      code: 'VAULT_KEY_WRONG',
    });
    const log = await filled(prefix, dir);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 3 });
  });

  it('left in clear by an earlier version is sealed when opened, and still verifies the old heads', async () => {
    const { prefix, dir } = await vault('audit-legacy');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await redis.set(auditKeyOf(prefix), privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    const before = await openAuditSigner({ redis, prefix, dir });
    expect(await redis.get(auditKeyOf(prefix))).toMatch(/^v1\./);
    const after = await openAuditSigner({ redis, prefix, dir });
    expect(after.keyId).toBe(before.keyId);
  });

  it('gone while the log exists is refused, not made anew (which would hide the log being replaced)', async () => {
    const { prefix, dir } = await vault('audit-keygone');
    await filled(prefix, dir);
    await redis.del(auditKeyOf(prefix));
    await expect(openAuditSigner({ redis, prefix, dir })).rejects.toMatchObject({
      code: 'AUDIT_KEY_MISSING',
    });
  });
});

describe('an emptied audit log', () => {
  it('fails --verify when its entries and head were deleted', async () => {
    const { prefix, dir } = await vault('audit-emptied');
    const log = await filled(prefix, dir);
    await redis.del(`${prefix}:audit`, `${prefix}:audit:head`);
    expect(await log.verify()).toMatchObject({
      ok: false,
      problem: expect.stringContaining('the signed head is missing'),
    });
  });

  it('fails --verify when its genesis marker went too', async () => {
    const { prefix, dir } = await vault('audit-nogenesis');
    const log = await filled(prefix, dir);
    await redis.del(`${prefix}:audit`, `${prefix}:audit:head`, `${prefix}:audit:genesis`);
    expect(await log.verify()).toMatchObject({
      ok: false,
      problem: "the log's genesis marker is missing: the audit log was emptied or replaced",
    });
  });

  it('a new vault with no entries yet verifies (the genesis head at seq 0)', async () => {
    const { prefix, dir } = await vault('audit-fresh');
    const log = createAuditLog(redis, prefix, await openAuditSigner({ redis, prefix, dir }));
    expect(await log.verify()).toMatchObject({ ok: true, entries: 0 });
  });
});

describe('what the CLI does straight on Redis', () => {
  it('token create/revoke, site register/revoke and vault rotate are each on the record', {
    timeout: 120_000,
  }, async () => {
    const { prefix, dir } = await vault('audit-direct');
    const env = { REDIS_URL: testRedisUrl() };
    const on = ['--prefix', prefix, '--vault-dir', dir, '--json'];
    const created = await drctl(['token', 'create', '--role', 'viewer', '--owner', 'bob', ...on], { env });
    expect(created.code).toBe(0);
    const id = (JSON.parse(created.stdout) as { record: { id: string } }).record.id;
    for (const args of [
      ['token', 'revoke', id],
      ['site', 'register', 'dc-east'],
      ['site', 'revoke', 'dc-east'],
      ['vault', 'rotate'],
    ]) {
      const run = await drctl([...args, ...on], { env });
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    const audit = await drctl(['audit', ...on], { env });
    const entries = audit.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { action: string; route: string; detail?: string });
    expect(entries.map((e) => e.route)).toEqual([
      'drctl token create (on Redis)',
      'drctl token revoke (on Redis)',
      'drctl site register (on Redis)',
      'drctl site revoke (on Redis)',
      'drctl vault rotate (on Redis)',
    ]);
    expect(entries[0]?.detail).toContain(`token ${id} for bob, role viewer`);
    const verified = await drctl(['audit', '--verify', ...on], { env });
    expect(verified.code).toBe(0);
  });
});
