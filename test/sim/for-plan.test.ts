import { describe, expect, it } from 'vitest';
import { loadPlanFile } from '../../engine/plan/index.ts';
import { worldForPlan } from '../../simulators/index.ts';

describe('worldForPlan', () => {
  it('builds a warmed-up two-site world in which every plan VM replicates normally', async () => {
    const loaded = await loadPlanFile('plans/examples/three-tier.yaml');
    if (!loaded.ok) throw new Error('example plan invalid');
    const plan = loaded.plan;
    const world = worldForPlan(plan, { clock: { mode: 'manual' } });
    expect(world.nowIso()).toBe('2026-01-01T05:00:00.000Z');
    const primaries = await world.api.listVMs(plan.source);
    const replicas = await world.api.listVMs(plan.target);
    expect(primaries.map((v) => v.name).sort()).toEqual(plan.vms.map((v) => v.name).sort());
    for (const v of primaries) {
      expect(v).toMatchObject({
        state: 'Running',
        heartbeat: 'Ok',
        replication: { mode: 'Primary', health: 'Normal', frequencySec: 30 },
      });
    }
    for (const v of replicas) {
      expect(v).toMatchObject({
        state: 'Off',
        replication: { mode: 'Replica', state: 'Replicating', health: 'Normal' },
      });
      const points = await world.api.getRecoveryPoints(plan.target, v.name);
      expect(points.length).toBeGreaterThanOrEqual(5);
      // A plan asking for latestAppConsistent (sql-01 in this one) can be tried at once.
      expect(points.some((p) => p.kind === 'appConsistent')).toBe(true);
    }
    const networks = await world.api.listNetworks(plan.target);
    for (const vm of plan.vms) {
      if (vm.network.test)
        expect(networks.find((n) => n.name === vm.network.test?.network)?.isolated).toBe(true);
      if (vm.network.failover)
        expect(networks.find((n) => n.name === vm.network.failover?.network)?.isolated).toBe(false);
    }
    // Boot times are drawn from [0.5, 1] × the plan's estimate.
    const sql = plan.vms.find((v) => v.name === 'sql-01');
    await world.api.startVMFailover({
      site: plan.target,
      vm: 'sql-01',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'latestProcessed' },
    });
    await world.api.startVM({ site: plan.target, vm: 'sql-01', epoch: 1 });
    const wait = world.api.waitForHeartbeat(plan.target, 'sql-01', 3_600_000);
    world.advance(sql?.bootEstimateMs ?? 0);
    const { ok, waitedMs } = await wait;
    expect(ok).toBe(true);
    expect(waitedMs).toBeGreaterThanOrEqual((sql?.bootEstimateMs ?? 0) * 0.5);
    expect(waitedMs).toBeLessThanOrEqual(sql?.bootEstimateMs ?? 0);
  });
});
