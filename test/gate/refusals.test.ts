/**
 * A run refused by pre-flight stores nothing and touches nothing: for each kind of blocker, the
 * submit throws PreflightBlockedError (exit 1) naming it at its place in the plan, no execution is
 * stored under the engine's prefix, and the simulator counts no new mutating call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { submitExecution } from '../../engine/executor/index.ts';
import { acquireLocks, readLocks, readPlanLock } from '../../engine/locks/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import type { World } from '../../simulators/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { testRedisClient } from '../support/redis.ts';
import { blockerCodes, crmPlan, erpPlan, footprint, gateWorld, refused } from './support.ts';

const engines: TestEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

async function engineFor(plan: RecoveryPlan, world: World): Promise<TestEngine> {
  const engine = await startTestEngine(plan, { world });
  engines.push(engine);
  return engine;
}

/** Submits `plan` as `type` and expects it refused with nothing stored or called. */
async function expectRefused(
  engine: TestEngine,
  options: Parameters<TestEngine['client']['submit']>[0],
): Promise<Awaited<ReturnType<typeof refused>>> {
  const redis = testRedisClient();
  try {
    const before = await footprint(redis, engine.prefix, engine.world);
    const report = await refused(engine.client.submit(options));
    const after = await footprint(redis, engine.prefix, engine.world);
    expect(after.executions).toEqual(before.executions);
    expect(after.mutations).toBe(before.mutations);
    // The refused run took no lock either.
    const locks = await readLocks(
      redis,
      engine.prefix,
      options.plan.vms.map((vm) => vm.name),
    );
    expect([...locks.values()].filter((h) => !before.executions.includes(h.execution))).toEqual([]);
    return report;
  } finally {
    await redis.quit();
  }
}

describe('a run refused by pre-flight', () => {
  it('capacity: the target would pass 80 % (site policy maxUtilization 0.8)', async () => {
    const plan = erpPlan();
    const world = gateWorld(plan, (spec) => {
      for (const site of spec.sites) for (const host of site.hosts) host.vmSlots = 50;
      for (let i = 0; i < 38; i++) {
        spec.vms.push({
          name: `filler-${i}`,
          site: 'dc-west',
          host: 'hv-dc-west-01',
          memoryMb: 512,
          state: 'Running',
        });
      }
    });
    const engine = await engineFor(plan, world);
    const report = await expectRefused(engine, {
      type: 'planned',
      plan,
      hash: 'h',
      reason: 'capacity',
      maxUtilization: 0.8,
    });
    expect(blockerCodes(report)).toEqual(['INSUFFICIENT_CAPACITY']);
    expect(report.blockers[0]?.path).toBe('spec.target');
    expect(report.capacity?.slots).toEqual({ total: 50, used: 38, needed: 3 });
  });

  it('a VM that needs a resync', async () => {
    const plan = erpPlan();
    const world = gateWorld(plan, (spec) => {
      const app = spec.vms.find((vm) => vm.name === 'app-01');
      if (app === undefined) throw new Error('app-01');
      app.diskBytes = 200 * 1024 * 1024;
      app.workload = { writesPerSec: 100, bytesPerWrite: 4096 };
    });
    world.fault({ kind: 'link', from: 'dc-east', to: 'dc-west', state: 'down' });
    world.advance(10 * 60_000);
    world.fault({ kind: 'link', from: 'dc-east', to: 'dc-west', state: 'up' });
    world.advance(60_000);
    const engine = await engineFor(plan, world);
    const report = await expectRefused(engine, { type: 'test', plan, hash: 'h', reason: 'resync' });
    expect(blockerCodes(report)).toContain('RESYNC_REQUIRED:app-01');
    expect(report.blockers.find((b) => b.code === 'RESYNC_REQUIRED')?.path).toBe('spec.vms[1]');
  });

  it('a VM already failed over by another plan (a real run of it)', async () => {
    const erp = erpPlan();
    const crm = crmPlan();
    const engine = await engineFor(erp, gateWorld(erp));
    const { id } = await engine.client.submit({ type: 'planned', plan: crm, hash: 'h', reason: 'crm first' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    const report = await expectRefused(engine, { type: 'unplanned', plan: erp, hash: 'h', reason: 'erp' });
    expect(blockerCodes(report)).toContain('ALREADY_FAILED_OVER:sql-01');
    const blocker = report.blockers.find((b) => b.code === 'ALREADY_FAILED_OVER');
    expect(blocker?.path).toBe('spec.vms[0]');
    expect(blocker?.message).toContain(`plan 'crm' (execution ${id}`);
    // and a drill of it too: its replica is now the primary
    await expectRefused(engine, { type: 'test', plan: erp, hash: 'h', reason: 'erp drill' });
  });

  it('a missing network', async () => {
    const plan = erpPlan();
    const world = gateWorld(plan, (spec) => {
      const west = spec.sites.find((s) => s.name === 'dc-west');
      if (west === undefined) throw new Error('dc-west');
      west.networks = (west.networks ?? []).filter((n) => n.name !== 'prod-west');
    });
    const engine = await engineFor(plan, world);
    const report = await expectRefused(engine, { type: 'planned', plan, hash: 'h', reason: 'net' });
    expect(report.blockers.map((b) => [b.code, b.vm, b.path])).toEqual([
      ['NETWORK_MISSING', 'sql-01', 'spec.vms[0].network.failover'],
      ['NETWORK_MISSING', 'app-01', 'spec.vms[1].network.failover'],
      ['NETWORK_MISSING', 'web-01', 'spec.vms[2].network.failover'],
    ]);
  });

  it('a plan and a VM locked by a drill that is not cleaned up yet', async () => {
    const erp = erpPlan();
    const engine = await engineFor(erp, gateWorld(erp));
    const drill = await engine.client.submit({ type: 'test', plan: erp, hash: 'h', reason: 'drill' });
    await waitForStatus(engine.client, drill.id, ['awaiting-cleanup', 'failed']);
    // the same plan: the plan lock and every VM
    const same = await expectRefused(engine, { type: 'planned', plan: erp, hash: 'h', reason: 'again' });
    expect(blockerCodes(same)).toEqual([
      'PLAN_LOCKED',
      'VM_LOCKED:sql-01',
      'VM_LOCKED:app-01',
      'VM_LOCKED:web-01',
    ]);
    expect(same.blockers[0]?.path).toBe('metadata.name');
    expect(same.blockers[0]?.hint).toContain(`drctl cleanup ${drill.id}`);
    // another plan sharing a VM: that VM
    const crm = await expectRefused(engine, { type: 'planned', plan: crmPlan(), hash: 'h', reason: 'crm' });
    expect(blockerCodes(crm)).toEqual(['VM_LOCKED:sql-01']);
    expect(crm.blockers[0]?.details?.execution).toBe(drill.id);
    const redis = testRedisClient();
    try {
      expect((await readPlanLock(redis, engine.prefix, 'crm'))?.execution).toBeUndefined();
    } finally {
      await redis.quit();
    }
  });

  it('an accepted blocker lets the run through, reported as an accepted warning; a missing network cannot be accepted', async () => {
    const plan = erpPlan();
    const world = gateWorld(plan, (spec) => {
      for (const site of spec.sites) for (const host of site.hosts) host.vmSlots = 50;
      for (let i = 0; i < 38; i++) {
        spec.vms.push({
          name: `filler-${i}`,
          site: 'dc-west',
          host: 'hv-dc-west-01',
          memoryMb: 512,
          state: 'Running',
        });
      }
    });
    const engine = await engineFor(plan, world);
    const error = await engine.client
      .submit({ type: 'planned', plan, hash: 'h', reason: 'x', accept: ['NETWORK_MISSING'] })
      .then(
        () => undefined,
        (e: unknown) => e as { exitCode?: number; code?: string },
      );
    expect([error?.code, error?.exitCode]).toEqual(['PREFLIGHT_NOT_ACCEPTABLE', 2]);
    const run = await engine.client.submit({
      type: 'planned',
      plan,
      hash: 'h',
      reason: 'crowded, but the site owner agreed',
      maxUtilization: 0.8,
      accept: ['INSUFFICIENT_CAPACITY'],
    });
    expect(run.preflight.warnings.map((w) => [w.code, w.details?.accepted])).toContainEqual([
      'INSUFFICIENT_CAPACITY',
      true,
    ]);
    expect((await waitForStatus(engine.client, run.id, ['completed', 'failed'])).status).toBe('completed');
  });

  it('the store itself refuses a drill or failover that did not come through the gate', async () => {
    const plan = erpPlan();
    const engine = await engineFor(plan, gateWorld(plan));
    const redis = testRedisClient();
    try {
      const before = await footprint(redis, engine.prefix, engine.world);
      const request = {
        type: 'planned' as const,
        direction: 'forward' as const,
        plan,
        hash: 'h',
        by: 'script',
        reason: 'around the gate',
        stepsTotal: 1,
        estimateMs: 1,
      };
      await expect(
        submitExecution(redis, engine.prefix, { ...request, id: 'sneaky-1' }),
      ).rejects.toMatchObject({
        code: 'NOT_GATED',
      });
      // holding someone else's lock is no better
      await acquireLocks(redis, engine.prefix, { execution: 'other', plan: 'erp', vms: [] });
      await expect(
        submitExecution(redis, engine.prefix, { ...request, id: 'sneaky-2' }),
      ).rejects.toMatchObject({
        code: 'NOT_GATED',
      });
      expect(await footprint(redis, engine.prefix, engine.world)).toEqual(before);
    } finally {
      await redis.quit();
    }
  });

  it('bad input before anything is read: an unknown VM or group in the selection (exit 2)', async () => {
    const plan = erpPlan();
    const engine = await engineFor(plan, gateWorld(plan));
    const before = JSON.stringify(engine.world.truth().mutations);
    for (const selection of [{ vms: ['sql-1'] }, { group: 2 }]) {
      const error = await engine.client
        .submit({ type: 'planned', plan, hash: 'h', reason: 'typo', selection })
        .then(
          () => undefined,
          (e: unknown) => e as { exitCode?: number; code?: string },
        );
      expect(error?.exitCode).toBe(2);
      expect(error?.code).toMatch(/^SELECTION_UNKNOWN_(VM|GROUP)$/);
    }
    expect((await engine.client.list()).length).toBe(0);
    expect(JSON.stringify(engine.world.truth().mutations)).toBe(before);
  });
});
