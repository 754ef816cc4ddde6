/**
 * Failing over part of a plan (`--vms`, `--group`): the execution's stored plan is the sub-plan,
 * only the selected VMs change site (the simulator's truth), and a selected VM's dependency outside
 * the selection must already run at the target, or the run is refused naming it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadPlanSnapshot } from '../../engine/executor/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { testRedisClient } from '../support/redis.ts';
import { blockerCodes, erpPlan, footprint, gateWorld, refused } from './support.ts';

const redis = testRedisClient();
const engines: TestEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});
afterAll(async () => {
  await redis.quit();
});

describe('a subset failover', () => {
  it('moves only the selected VMs, stores the sub-plan, and checks the dependencies left out', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const primaries = () => {
      const truth = engine.world.truth();
      return Object.fromEntries(
        ['sql-01', 'app-01', 'web-01'].map((vm) => [vm, truth.vms[vm]?.primarySites]),
      );
    };

    // web-01 alone: app-01 is neither selected nor running at the target
    const before = await footprint(redis, engine.prefix, engine.world);
    const lone = await refused(
      engine.client.submit({
        type: 'planned',
        plan,
        hash: 'h',
        reason: 'web',
        selection: { vms: ['web-01'] },
      }),
    );
    expect(lone.blockers.map((b) => [b.code, b.vm, b.path])).toEqual([
      ['DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', 'web-01', 'spec.vms[2].dependsOn[0]'],
    ]);
    expect(await footprint(redis, engine.prefix, engine.world)).toEqual(before);

    // sql-01 first: only it moves
    const first = await engine.client.submit({
      type: 'planned',
      plan,
      hash: 'h',
      reason: 'database first',
      selection: { vms: ['sql-01'] },
    });
    expect(first.preflight.selected).toEqual(['sql-01']);
    expect((await waitForStatus(engine.client, first.id, ['completed', 'failed'])).status).toBe('completed');
    const stored = await loadPlanSnapshot(redis, engine.prefix, first.id);
    expect(stored.vms.map((vm) => vm.name)).toEqual(['sql-01']);
    expect((await engine.client.get(first.id)).stepsTotal).toBe(first.stepsTotal);
    expect(first.stepsTotal).toBeLessThan(
      compilePlan(plan, { type: 'planned', direction: 'forward' }).steps.size,
    );
    expect(primaries()).toEqual({ 'sql-01': ['dc-west'], 'app-01': ['dc-east'], 'web-01': ['dc-east'] });
    // sql-01 is not touched at the source or the target by anything else than its own steps
    const untouched = engine.world.truth().mutations;
    expect(Object.keys(untouched['app-01'] ?? {})).toEqual([]);
    expect(Object.keys(untouched['web-01'] ?? {})).toEqual([]);

    // app-01 and web-01 next: sql-01, outside the selection, now runs at the target
    const rest = await engine.client.submit({
      type: 'planned',
      plan,
      hash: 'h',
      reason: 'the rest',
      selection: { vms: ['web-01', 'app-01'] },
    });
    expect(rest.preflight.selected).toEqual(['app-01', 'web-01']); // plan order
    expect((await waitForStatus(engine.client, rest.id, ['completed', 'failed'])).status).toBe('completed');
    expect(primaries()).toEqual({ 'sql-01': ['dc-west'], 'app-01': ['dc-west'], 'web-01': ['dc-west'] });
    expect(engine.world.truth().splitBrain).toEqual([]);
  });

  it('--group selects an ordered group; a VM of a later group needs the earlier group running', async () => {
    const plan = erpPlan();
    plan.vms = plan.vms.map((vm, i) => ({ ...vm, dependsOn: [], group: i === 0 ? 0 : 1 }));
    plan.groups = [
      { name: 'data', vms: ['sql-01'] },
      { name: 'apps', vms: ['app-01', 'web-01'] },
    ];
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const apps = await refused(
      engine.client.submit({ type: 'test', plan, hash: 'h', reason: 'apps', selection: { group: 'apps' } }),
    );
    expect(blockerCodes(apps)).toEqual([
      'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING:app-01',
      'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING:web-01',
    ]);
    expect(apps.blockers[0]?.path).toBe('spec.groups[0]');
    const data = await engine.client.submit({
      type: 'test',
      plan,
      hash: 'h',
      reason: 'data',
      selection: { group: 1 },
    });
    expect(data.preflight.selected).toEqual(['sql-01']);
    expect((await waitForStatus(engine.client, data.id, ['awaiting-cleanup', 'failed'])).status).toBe(
      'awaiting-cleanup',
    );
    const testVms = (await engine.world.api.listVMs('dc-west'))
      .filter((vm) => vm.isTest)
      .map((vm) => vm.name);
    expect(testVms).toEqual(['sql-01 - Test']);
  });
});
