import type { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  acquireLocks,
  clearFailedOver,
  createLockReader,
  forceRelease,
  markFailedOver,
  readFailedOver,
  readLocks,
  readPlanLock,
  releaseLocks,
  vmLockKey,
} from '../../engine/locks/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

const clients: Redis[] = [];
function client(): Redis {
  const c = testRedisClient();
  clients.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

describe('plan and VM locks', () => {
  const redis = client();
  let prefix = '';
  beforeEach(() => {
    prefix = uniquePrefix('locks');
  });

  it('takes the plan lock and every VM lock, and names the holder to readers', async () => {
    const result = await acquireLocks(redis, prefix, {
      execution: 'e1',
      plan: 'erp',
      vms: ['sql-01', 'app-01'],
      operation: 'planned',
    });
    expect(result).toEqual({ ok: true, acquired: 3 });
    const held = await readLocks(redis, prefix, ['sql-01', 'app-01', 'web-01']);
    expect([...held.keys()].sort()).toEqual(['app-01', 'sql-01']);
    expect(held.get('sql-01')).toMatchObject({ execution: 'e1', plan: 'erp', operation: 'planned' });
    expect(await readPlanLock(redis, prefix, 'erp')).toMatchObject({ execution: 'e1' });
    expect(await redis.pttl(vmLockKey(prefix, 'sql-01'))).toBe(-1);
  });

  it('is re-entrant for the same execution (a resumed execution takes its locks again)', async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a', 'b'] });
    const again = await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a', 'b', 'c'] });
    expect(again).toEqual({ ok: true, acquired: 1 });
  });

  describe('when another execution of the same plan runs', () => {
    it('refuses with the plan holder and takes nothing', async () => {
      await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a'] });
      const second = await acquireLocks(redis, prefix, { execution: 'e2', plan: 'erp', vms: ['z'] });
      expect(second.ok).toBe(false);
      if (second.ok) return;
      expect(second.conflicts).toEqual([
        { kind: 'plan', name: 'erp', holder: expect.objectContaining({ execution: 'e1' }) },
      ]);
      expect((await readLocks(redis, prefix, ['z'])).size).toBe(0);
    });
  });

  describe('when another plan holds some of the VMs', () => {
    it('refuses with every conflicting VM and its holder, all or nothing', async () => {
      await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a', 'b'] });
      const second = await acquireLocks(redis, prefix, {
        execution: 'e2',
        plan: 'crm',
        vms: ['b', 'c', 'a', 'd'],
      });
      expect(second.ok).toBe(false);
      if (second.ok) return;
      expect(second.conflicts.map((c) => `${c.kind}:${c.name}:${c.holder.execution}`)).toEqual([
        'vm:b:e1',
        'vm:a:e1',
      ]);
      expect((await readLocks(redis, prefix, ['c', 'd'])).size).toBe(0);
      expect(await readPlanLock(redis, prefix, 'crm')).toBeUndefined();
    });
  });

  it('lets exactly one of two racing acquirers win, and the loser holds nothing', async () => {
    const vmsA = Array.from({ length: 2000 }, (_, i) => `vm-${i}`);
    const vmsB = Array.from({ length: 2000 }, (_, i) => `vm-${i + 1000}`);
    for (let round = 0; round < 10; round++) {
      const p = `${prefix}-${round}`;
      const [a, b] = await Promise.all([
        acquireLocks(client(), p, { execution: 'ea', plan: 'pa', vms: vmsA }),
        acquireLocks(client(), p, { execution: 'eb', plan: 'pb', vms: vmsB }),
      ]);
      expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
      const loser = a.ok ? b : a;
      const loserOnly = a.ok ? vmsB.slice(1000) : vmsA.slice(0, 1000);
      expect(loser.ok ? [] : loser.conflicts).toHaveLength(1000);
      expect((await readLocks(redis, p, loserOnly)).size).toBe(0);
    }
  });

  it('releases only the locks of the releasing execution', async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a'] });
    await acquireLocks(redis, prefix, { execution: 'e2', plan: 'crm', vms: ['b'] });
    expect(await releaseLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a', 'b'] })).toBe(2);
    const held = await readLocks(redis, prefix, ['a', 'b']);
    expect([...held.keys()]).toEqual(['b']);
    expect(await readPlanLock(redis, prefix, 'erp')).toBeUndefined();
  });

  it('expires locks only when a TTL is asked for', async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a'], ttlMs: 60_000 });
    const ttl = await redis.pttl(vmLockKey(prefix, 'a'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('lets an operator force-release a dead execution and reports what was held', async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a', 'b'] });
    const released = await forceRelease(redis, prefix, { plan: 'erp', vms: ['a', 'x'] });
    expect(released.map((r) => `${r.kind}:${r.name}:${r.holder.execution}`)).toEqual([
      'plan:erp:e1',
      'vm:a:e1',
    ]);
    const second = await acquireLocks(redis, prefix, { execution: 'e2', plan: 'erp', vms: ['a'] });
    expect(second.ok).toBe(true);
  });

  it('names a lock it cannot read as held by an unknown holder instead of ignoring it', async () => {
    await redis.set(vmLockKey(prefix, 'a'), 'garbage');
    const result = await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['a'] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.conflicts[0]?.holder.execution).toContain('unknown');
  });

  it('takes 10,000 VM locks in one call', async () => {
    const vms = Array.from({ length: 10_000 }, (_, i) => `vm-${i}`);
    expect(await acquireLocks(redis, prefix, { execution: 'e1', plan: 'big', vms })).toEqual({
      ok: true,
      acquired: 10_001,
    });
    expect((await readLocks(redis, prefix, vms)).size).toBe(10_000);
    expect(await releaseLocks(redis, prefix, { execution: 'e1', plan: 'big', vms })).toBe(10_001);
  });
});

describe('the failed-over record', () => {
  const redis = client();
  const prefix = uniquePrefix('fo');
  const record = {
    plan: 'erp',
    execution: 'e1',
    site: 'dc-west',
    direction: 'forward' as const,
    at: '2026-01-01T00:00:00Z',
  };

  it('is read back per VM and through the LockReader', async () => {
    await markFailedOver(redis, prefix, ['a', 'b'], record);
    const read = await readFailedOver(redis, prefix, ['a', 'c']);
    expect([...read.entries()]).toEqual([['a', record]]);
    const reader = createLockReader(redis, prefix);
    expect((await reader.readFailedOver(['b'])).get('b')).toEqual(record);
  });

  it('is cleared only by the plan that wrote it, unless the operator overrides', async () => {
    await markFailedOver(redis, prefix, ['c'], record);
    expect(await clearFailedOver(redis, prefix, ['c'], 'crm')).toBe(0);
    expect(await clearFailedOver(redis, prefix, ['c'], 'erp')).toBe(1);
    await markFailedOver(redis, prefix, ['d'], record);
    expect(await clearFailedOver(redis, prefix, ['d'])).toBe(1);
    expect((await readFailedOver(redis, prefix, ['c', 'd'])).size).toBe(0);
  });
});
