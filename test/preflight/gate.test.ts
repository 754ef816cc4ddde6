import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { acquireLocks, readLocks, readPlanLock } from '../../engine/locks/index.ts';
import { preflightAndLock } from '../../engine/preflight/index.ts';
import { type HyperVApi, type World, worldForPlan } from '../../simulators/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';
import { codes, makePlan } from './fixtures.ts';

const plan = makePlan([{ name: 'sql-01' }, { name: 'app-01', dependsOn: ['sql-01'] }]);
const redis = testRedisClient();
const other = testRedisClient();
afterAll(async () => {
  await Promise.all([redis.quit(), other.quit()]);
});
const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.close();
});
function world(): World {
  const w = worldForPlan(plan);
  worlds.push(w);
  return w;
}

describe('preflightAndLock', () => {
  it('takes the plan lock and every selected VM lock when nothing blocks', async () => {
    const prefix = uniquePrefix('gate');
    const { report, locked } = await preflightAndLock({
      plan,
      api: world().api,
      type: 'test',
      redis,
      prefix,
      execution: 'e1',
    });
    expect(report.ok).toBe(true);
    expect(locked).toBe(true);
    expect(report.estimatedRtoMs).toBeUndefined(); // submitting compiles the plan; the gate does not
    const held = await readLocks(redis, prefix, ['sql-01', 'app-01']);
    expect([...held.values()].map((h) => [h.execution, h.operation])).toEqual([
      ['e1', 'test'],
      ['e1', 'test'],
    ]);
    expect((await readPlanLock(redis, prefix, 'erp'))?.execution).toBe('e1');
  });

  it('takes nothing when pre-flight finds a blocker', async () => {
    const prefix = uniquePrefix('gate');
    await acquireLocks(other, prefix, { execution: 'e0', plan: 'crm', vms: ['app-01'] });
    const { report, locked } = await preflightAndLock({
      plan,
      api: world().api,
      type: 'test',
      redis,
      prefix,
      execution: 'e1',
    });
    expect(locked).toBe(false);
    expect(codes(report.blockers)).toEqual(['VM_LOCKED:app-01']);
    expect(await readPlanLock(redis, prefix, 'erp')).toBeUndefined();
    expect((await readLocks(redis, prefix, ['sql-01'])).size).toBe(0);
  });

  it('reports a lock taken by another execution while pre-flight ran, and takes nothing', async () => {
    const prefix = uniquePrefix('gate');
    const w = world();
    let raced = false;
    const api = new Proxy(w.api, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'getRecoveryPoints' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (!raced) {
            raced = true;
            await sleep(50); // the lock reads are done by now
            await acquireLocks(other, prefix, {
              execution: 'e-racer',
              plan: 'crm',
              vms: ['sql-01'],
              operation: 'planned',
            });
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as HyperVApi;
    const { report, locked } = await preflightAndLock({
      plan,
      api,
      type: 'unplanned',
      points: 'all',
      redis,
      prefix,
      execution: 'e1',
      locate: (path) => (path === 'spec.vms[0]' ? { line: 9, column: 7 } : undefined),
    });
    expect(locked).toBe(false);
    expect(report.ok).toBe(false);
    expect(report.blockers.map((b) => [b.code, b.vm, b.line])).toEqual([['VM_LOCKED', 'sql-01', 9]]);
    expect(report.blockers[0]?.message).toContain('e-racer');
    expect((await readLocks(redis, prefix, ['app-01'])).size).toBe(0);
  });
});
