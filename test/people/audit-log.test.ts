/**
 * The audit log's chain against a real Redis: appends chain and sign, and `--verify` (the library
 * and, once, the real CLI) finds an altered, a removed and a truncated entry, naming it.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { type AuditLog, type AuditSigner, createAuditLog } from '../../engine/control/audit/index.ts';
import { openAuditSigner } from '../../engine/control/vault/index.ts';
import { drctl } from '../cli/support.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';

const redis: Redis = testRedisClient();
afterAll(() => redis.disconnect());
const temp = useTempDirs();
const vaultDirs = new Map<string, string>();

/** A vault under `prefix` (its audit key sealed, the log's genesis written) and its audit signer. */
async function signerOf(prefix: string): Promise<AuditSigner> {
  const dir = temp('drorch-audit-vault-');
  await ensureVault({ redis, prefix, dir });
  vaultDirs.set(prefix, dir);
  return openAuditSigner({ redis, prefix, dir });
}

async function fill(log: AuditLog, count: number): Promise<void> {
  for (let i = 1; i <= count; i += 1) {
    await log.append({
      actor: `alice-${i}`,
      role: 'operator',
      action: 'failover:commit',
      route: 'POST /api/v1/executions/:id/commit',
      ip: '127.0.0.1',
      execution: `exec-${i}`,
      epoch: i,
      outcome: 'accepted',
      status: 200,
    });
  }
}

/** Rewrite the stream with the same ids, `change` applied to entry `seq`: what an intruder would do. */
async function rewrite(prefix: string, seq: number, change: (entry: Record<string, unknown>) => void) {
  const stream = `${prefix}:audit`;
  const all = await redis.xrange(stream, '-', '+');
  await redis.del(stream);
  for (const [id, fields] of all) {
    const entry = JSON.parse(fields[1] ?? '{}') as Record<string, unknown>;
    if (entry.seq === seq) change(entry);
    await redis.xadd(stream, id, 'e', JSON.stringify(entry));
  }
}

async function streamIdOf(prefix: string, seq: number): Promise<string> {
  const all = await redis.xrange(`${prefix}:audit`, '-', '+');
  const hit = all.find(([, fields]) => JSON.parse(fields[1] ?? '{}').seq === seq);
  if (hit === undefined) throw new Error(`no entry ${seq}`);
  return hit[0];
}

describe('the audit log', () => {
  let prefix: string;
  let signer: AuditSigner;
  let log: AuditLog;
  beforeEach(async () => {
    prefix = uniquePrefix('audit');
    signer = await signerOf(prefix);
    log = createAuditLog(redis, prefix, signer);
    await fill(log, 5);
  });

  it('chains each entry to the one before and verifies an untouched log', async () => {
    const entries = await log.read();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < entries.length; i += 1) expect(entries[i]?.prev).toBe(entries[i - 1]?.hash);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 5 });
  });

  it('keeps one chain when appends race (two logs on one Redis, as two control planes)', async () => {
    const other = createAuditLog(redis, prefix, signer);
    await Promise.all([fill(log, 10), fill(other, 10)]);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 25 });
  });

  it('finds an altered entry and names it', async () => {
    await rewrite(prefix, 3, (entry) => {
      entry.actor = 'mallory';
    });
    expect(await log.verify()).toMatchObject({
      ok: false,
      seq: 3,
      problem: expect.stringContaining('entry 3 was altered'),
    });
  });

  it('finds an altered entry whose hash was recomputed: it no longer chains', async () => {
    const { hashEntry } = await import('../../engine/control/audit/index.ts');
    await rewrite(prefix, 2, (entry) => {
      entry.outcome = 'refused';
      const { hash: _hash, ...body } = entry;
      entry.hash = hashEntry(body as never);
    });
    expect(await log.verify()).toMatchObject({
      ok: false,
      seq: 3,
      problem: expect.stringContaining('does not chain'),
    });
  });

  it('finds a removed entry and names it', async () => {
    await redis.xdel(`${prefix}:audit`, await streamIdOf(prefix, 4));
    expect(await log.verify()).toMatchObject({
      ok: false,
      seq: 4,
      problem: expect.stringContaining('entry 4 removed'),
    });
  });

  it('finds a removed first entry', async () => {
    await redis.xdel(`${prefix}:audit`, await streamIdOf(prefix, 1));
    expect(await log.verify()).toMatchObject({
      ok: false,
      seq: 1,
      problem: expect.stringContaining('entry 1 removed'),
    });
  });

  it('finds a truncated log (its last entries gone) from the signed head', async () => {
    await redis.xdel(`${prefix}:audit`, await streamIdOf(prefix, 5), await streamIdOf(prefix, 4));
    expect(await log.verify()).toMatchObject({
      ok: false,
      seq: 4,
      problem: expect.stringContaining('truncated: the signed head is entry 5 but the log ends at entry 3'),
    });
  });

  it('refuses a head re-signed by another key', async () => {
    const forger = await signerOf(uniquePrefix('forger'));
    const hash = (await redis.hget(`${prefix}:audit:head`, 'hash')) ?? '';
    const { headMessage } = await import('../../engine/control/audit/log.ts');
    await redis.hset(`${prefix}:audit:head`, {
      keyId: signer.keyId,
      signature: await forger.sign(headMessage(5, hash)),
    });
    expect(await log.verify()).toMatchObject({
      ok: false,
      problem: expect.stringContaining('signature does not verify'),
    });
  });

  it('is never trimmed by appends: a thousand entries stay', async () => {
    const manyPrefix = uniquePrefix('audit-many');
    const many = createAuditLog(redis, manyPrefix, await signerOf(manyPrefix));
    await fill(many, 1000);
    expect((await many.read()).length).toBe(1000);
    expect(await many.verify()).toMatchObject({ ok: true, entries: 1000 });
  });

  describe('drctl audit --verify (the real CLI, on the vault Redis)', () => {
    const env = () => ({ REDIS_URL: testRedisUrl() });
    it('exits 0 on an untouched log and 1 naming an altered, a removed and a truncated entry', {
      timeout: 60_000,
    }, async () => {
      const ok = await drctl(
        ['audit', '--verify', '--prefix', prefix, '--vault-dir', vaultDirs.get(prefix) ?? ''],
        { env: env() },
      );
      expect(ok.stdout).toContain('audit log verified: 5 entries');
      expect(ok.code).toBe(0);

      await rewrite(prefix, 2, (entry) => {
        entry.execution = 'exec-other';
      });
      const altered = await drctl(
        ['audit', '--verify', '--prefix', prefix, '--vault-dir', vaultDirs.get(prefix) ?? ''],
        { env: env() },
      );
      expect(altered.code).toBe(1);
      expect(altered.stderr).toContain('entry 2 was altered');

      const removedPrefix = uniquePrefix('audit-cli-rm');
      await fill(createAuditLog(redis, removedPrefix, await signerOf(removedPrefix)), 4);
      await redis.xdel(`${removedPrefix}:audit`, await streamIdOf(removedPrefix, 2));
      const removed = await drctl(
        ['audit', '--verify', '--prefix', removedPrefix, '--vault-dir', vaultDirs.get(removedPrefix) ?? ''],
        { env: env() },
      );
      expect(removed.code).toBe(1);
      expect(removed.stderr).toContain('entry 2 removed');

      const cutPrefix = uniquePrefix('audit-cli-cut');
      await fill(createAuditLog(redis, cutPrefix, await signerOf(cutPrefix)), 4);
      await redis.xdel(`${cutPrefix}:audit`, await streamIdOf(cutPrefix, 4));
      const cut = await drctl(
        ['audit', '--verify', '--prefix', cutPrefix, '--vault-dir', vaultDirs.get(cutPrefix) ?? '', '--json'],
        { env: env() },
      );
      expect(cut.code).toBe(1);
      expect(JSON.parse(cut.stdout)).toMatchObject({ ok: false, seq: 4 });
      expect(cut.stderr).toContain('truncated');
    });

    it('prints the entries, and --since leaves out the older ones', async () => {
      const all = await drctl(
        ['audit', '--prefix', prefix, '--vault-dir', vaultDirs.get(prefix) ?? '', '--json'],
        { env: env() },
      );
      expect(all.code).toBe(0);
      const lines = all.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.map((e) => e.actor)).toEqual(['alice-1', 'alice-2', 'alice-3', 'alice-4', 'alice-5']);
      const human = await drctl(['audit', '--prefix', prefix, '--vault-dir', vaultDirs.get(prefix) ?? ''], {
        env: env(),
      });
      expect(human.stdout).toMatch(
        /alice-3 \(operator\) failover:commit execution exec-3 epoch 3 accepted 200/,
      );
      const none = await drctl(
        [
          'audit',
          '--prefix',
          prefix,
          '--vault-dir',
          vaultDirs.get(prefix) ?? '',
          '--since',
          '2999-01-01T00:00:00Z',
        ],
        {
          env: env(),
        },
      );
      expect(none.stdout).toBe('');
    });
  });
});
