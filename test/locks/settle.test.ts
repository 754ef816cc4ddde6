import type { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  acquireLocks,
  markFailedOver,
  persistLocks,
  readFailedOver,
  readLocks,
  readPlanLock,
  releaseLocks,
  settleExecutionLocks,
  vmLockKey,
} from '../../engine/locks/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

const redis: Redis = testRedisClient();
afterAll(async () => {
  await redis.quit();
});
const VMS = ['sql-01', 'app-01'];

describe('persistLocks', () => {
  let prefix = '';
  beforeEach(() => {
    prefix = uniquePrefix('persist');
  });

  it('drops the expiry of the locks a submit took with a TTL', async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: VMS, ttlMs: 60_000 });
    expect(await redis.pttl(vmLockKey(prefix, 'sql-01'))).toBeGreaterThan(0);
    expect(await persistLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: VMS })).toBe(3);
    expect(await redis.pttl(vmLockKey(prefix, 'sql-01'))).toBe(-1);
  });

  it("never brings back a lock its execution already released, nor touches another's", async () => {
    await acquireLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['sql-01'], ttlMs: 60_000 });
    await acquireLocks(redis, prefix, { execution: 'e2', plan: 'crm', vms: ['app-01'], ttlMs: 60_000 });
    await releaseLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: ['sql-01'] });
    expect(await persistLocks(redis, prefix, { execution: 'e1', plan: 'erp', vms: VMS })).toBe(0);
    expect((await readLocks(redis, prefix, VMS)).get('sql-01')).toBeUndefined();
    expect(await redis.pttl(vmLockKey(prefix, 'app-01'))).toBeGreaterThan(0);
  });
});

describe('settleExecutionLocks', () => {
  let prefix = '';
  beforeEach(() => {
    prefix = uniquePrefix('settle');
  });
  const base = { plan: 'erp', vms: VMS, toSite: 'dc-west', direction: 'forward' as const, failedOver: [] };
  const holders = async () => ({
    plan: (await readPlanLock(redis, prefix, 'erp'))?.execution,
    vms: [...(await readLocks(redis, prefix, VMS)).values()].map((h) => h.execution),
  });

  it('a failover that failed: records the VMs it failed over, releases its locks', async () => {
    await acquireLocks(redis, prefix, { execution: 'f1', plan: 'erp', vms: VMS });
    const result = await settleExecutionLocks(redis, prefix, {
      ...base,
      execution: 'f1',
      type: 'unplanned',
      status: 'failed',
      failedOver: ['sql-01'],
    });
    expect(result).toMatchObject({ releasedFor: 'f1', released: 3, marked: 1 });
    expect(await holders()).toEqual({ plan: undefined, vms: [] });
    expect([...(await readFailedOver(redis, prefix, VMS)).keys()]).toEqual(['sql-01']);
  });

  it("a completed failback clears only this plan's records", async () => {
    const record = { execution: 'x', site: 'dc-west', direction: 'forward' as const, at: '' };
    await markFailedOver(redis, prefix, ['sql-01'], { ...record, plan: 'erp' });
    await markFailedOver(redis, prefix, ['app-01'], { ...record, plan: 'crm' });
    await settleExecutionLocks(redis, prefix, {
      ...base,
      execution: 'b1',
      type: 'planned',
      direction: 'failback',
      status: 'completed',
      failedOver: VMS,
    });
    expect([...(await readFailedOver(redis, prefix, VMS)).keys()]).toEqual(['app-01']);
  });

  it('a drill keeps its locks (completed or failed) until its cleanup completes', async () => {
    await acquireLocks(redis, prefix, { execution: 'd1', plan: 'erp', vms: VMS, operation: 'test' });
    for (const status of ['awaiting-cleanup', 'failed']) {
      await settleExecutionLocks(redis, prefix, { ...base, execution: 'd1', type: 'test', status });
      expect(await holders()).toEqual({ plan: 'd1', vms: ['d1', 'd1'] });
    }
    await settleExecutionLocks(redis, prefix, {
      ...base,
      execution: 'd1-cleanup',
      type: 'cleanup',
      status: 'failed',
      parent: 'd1',
    });
    expect(await holders()).toEqual({ plan: 'd1', vms: ['d1', 'd1'] });
    const done = await settleExecutionLocks(redis, prefix, {
      ...base,
      execution: 'd1-cleanup',
      type: 'cleanup',
      status: 'completed',
      parent: 'd1',
    });
    expect(done).toMatchObject({ releasedFor: 'd1', released: 3 });
    expect(await holders()).toEqual({ plan: undefined, vms: [] });
    expect((await readFailedOver(redis, prefix, VMS)).size).toBe(0);
  });

  it('a failover left cancelling keeps its locks for its rollback', async () => {
    await acquireLocks(redis, prefix, { execution: 'f2', plan: 'erp', vms: VMS });
    await settleExecutionLocks(redis, prefix, {
      ...base,
      execution: 'f2',
      type: 'planned',
      status: 'cancelling',
    });
    expect(await holders()).toEqual({ plan: 'f2', vms: ['f2', 'f2'] });
  });
});
