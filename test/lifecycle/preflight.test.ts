/**
 * Issue 10, "operations that cannot make things worse": each lifecycle operation runs its own
 * pre-flight against the hosts and changes nothing unless every VM can finish. Real Redis, the
 * simulated world, the ledger as the judge (truth's `primarySites`: where each VM runs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  submitCancel,
  submitChangePoint,
  submitCommit,
  submitReprotect,
} from '../../engine/executor/index.ts';
import type { LifecycleBlockedError } from '../../engine/preflight/index.ts';
import { createWorld, FOR_PLAN_WARMUP_MS, worldSpecForPlan } from '../../simulators/index.ts';
import { waitForStatus } from '../engine/support.ts';
import {
  failOverFromLostSource,
  type LifecycleEngine,
  smallPlan,
  startLifecycleEngine,
  vmAt,
} from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** The refusal a promise rejects with, as the CLI would see it. */
async function blocked(promise: Promise<unknown>): Promise<LifecycleBlockedError> {
  try {
    await promise;
  } catch (error) {
    return error as LifecycleBlockedError;
  }
  throw new Error('expected the operation to be refused, it was accepted');
}

/** Every VM runs at `site` only, and is Running there. */
async function expectRunningAt(e: LifecycleEngine, vms: readonly string[], site: string): Promise<void> {
  const truth = e.world.truth();
  expect(truth.splitBrain).toEqual([]);
  for (const vm of vms) {
    expect(truth.vms[vm]?.primarySites, vm).toEqual([site]);
    expect((await vmAt(e, site, vm)).state, vm).toBe('Running');
  }
}

function fourVmPlan(name: string) {
  const { plan, hash } = smallPlan(name);
  const web = { ...plan.vms[1]!, name: `${name}-web`, dependsOn: [`${name}-app1`] };
  return { plan: { ...plan, vms: [...plan.vms, web] }, hash };
}

describe('change-point pre-flight', () => {
  it('refuses when one VM has no matching point: nothing changed, all 4 still run at the target', async () => {
    const { plan, hash } = fourVmPlan('pf1');
    // pf1-web keeps no hourly points: only its `latest` point, newer than the time asked for.
    const spec = worldSpecForPlan(plan, { clock: { mode: 'scaled', speed: 2000 } });
    const web = spec.vms.find((v) => v.name === 'pf1-web');
    if (web?.replication === undefined) throw new Error('pf1-web replicates');
    web.replication.recoveryPoints = 0;
    const world = createWorld(spec);
    world.advance(FOR_PLAN_WARMUP_MS);
    engine = await startLifecycleEngine(plan, { world });
    const id = await failOverFromLostSource(engine, plan, hash);
    const names = plan.vms.map((v) => v.name);
    const mutationsBefore = JSON.stringify(world.truth().mutations);

    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const refused = await blocked(
      submitChangePoint(engine.redis, engine.prefix, id, {
        ...engine.who,
        recoveryPoint: { kind: 'at', at },
      }),
    );
    expect(refused.code).toBe('PREFLIGHT_BLOCKED');
    expect(refused.exitCode).toBe(1);
    expect(refused.report.blockers.map((b) => [b.code, b.vm, b.path])).toEqual([
      ['NO_RECOVERY_POINT', 'pf1-web', 'spec.vms[3]'],
    ]);
    expect(refused.message).toContain('pf1-web');
    // The three VMs that have the point are shown with the point they would get.
    expect(refused.report.rows.map((r) => r.vm)).toEqual(['pf1-db', 'pf1-app1', 'pf1-app2']);

    // Nothing changed: no mutating call, the failover as it was, every VM running at the target.
    expect(JSON.stringify(world.truth().mutations)).toBe(mutationsBefore);
    expect((await engine.client.get(id)).status).toBe('completed');
    expect(world.truth().failovers.filter((f) => f.cancelledAt !== undefined)).toEqual([]);
    await expectRunningAt(engine, names, plan.target);

    // A dry run of a point every VM has says ok, and changes nothing either.
    const dry = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'latest' },
      dryRun: true,
    });
    expect(dry).toMatchObject({ dryRun: true, created: false, preflight: { ok: true } });
    expect((await engine.client.get(id)).status).toBe('completed');
    expect(JSON.stringify(world.truth().mutations)).toBe(mutationsBefore);
  });
});

describe('cancel pre-flight', () => {
  it('of an unplanned failover whose source is lost: refused per VM, the only running copies stay up', async () => {
    const { plan, hash } = smallPlan('pf2');
    engine = await startLifecycleEngine(plan);
    const id = await failOverFromLostSource(engine, plan, hash);
    const names = plan.vms.map((v) => v.name);

    const refused = await blocked(submitCancel(engine.redis, engine.prefix, id, engine.who));
    expect(refused.code).toBe('PREFLIGHT_BLOCKED');
    expect(refused.exitCode).toBe(1);
    expect(refused.report.blockers.map((b) => [b.code, b.vm])).toEqual(
      names.map((vm) => ['ONLY_RUNNING_COPY', vm]),
    );
    expect(refused.report.blockers[0]?.message).toContain('only running copy');
    expect((await engine.client.get(id)).status).toBe('completed');
    await expectRunningAt(engine, names, plan.target);
    for (const vm of names)
      expect((await vmAt(engine, plan.target, vm)).replication?.state).toBe('FailedOverWaitingCompletion');
  });
});

describe('commit pre-flight', () => {
  it('refuses when a VM is not up; --partial leaves it out with its recovery points', async () => {
    const { plan, hash } = smallPlan('pf3');
    engine = await startLifecycleEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    // The failover ended well; since then app2 went down at the target.
    const down = 'pf3-app2';
    const view = await vmAt(engine, plan.target, down);
    await engine.world.api.stopVM({ site: plan.target, vm: down, epoch: view.epoch, turnOff: true });

    const refused = await blocked(submitCommit(engine.redis, engine.prefix, id, engine.who));
    expect(refused.code).toBe('PREFLIGHT_BLOCKED');
    expect(refused.exitCode).toBe(1);
    expect(refused.report.blockers.map((b) => [b.code, b.vm])).toEqual([['VM_NOT_UP', down]]);
    expect(refused.report.blockers[0]?.hint).toContain('--partial');
    expect((await engine.client.get(id)).status).toBe('completed');
    for (const vm of plan.vms)
      expect((await vmAt(engine, plan.target, vm.name)).replication?.state).toBe(
        'FailedOverWaitingCompletion',
      );

    const partial = await submitCommit(engine.redis, engine.prefix, id, { ...engine.who, partial: true });
    expect(partial.run?.vms).toEqual(['pf3-db', 'pf3-app1']);
    expect(partial.run?.skipped.map((s) => s.vm)).toEqual([down]);
    expect((await waitForStatus(engine.client, partial.id, ['completed', 'failed'])).status).toBe(
      'completed',
    );
    expect((await vmAt(engine, plan.target, 'pf3-db')).replication?.state).toBe('FailedOver');
    expect((await vmAt(engine, plan.target, down)).replication?.state).toBe('FailedOverWaitingCompletion');
    expect((await engine.world.api.getRecoveryPoints(plan.target, down)).length).toBeGreaterThan(0);
  });
});

describe('reprotect pre-flight', () => {
  it('refuses when the old primary site is down: nothing changed, the VMs run on at the target', async () => {
    const { plan, hash } = smallPlan('pf4');
    engine = await startLifecycleEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
    const mutationsBefore = JSON.stringify(engine.world.truth().mutations);

    const refused = await blocked(submitReprotect(engine.redis, engine.prefix, id, engine.who));
    expect(refused.code).toBe('PREFLIGHT_BLOCKED');
    expect(refused.exitCode).toBe(1);
    expect(refused.report.blockers.map((b) => [b.code, b.site, b.path])).toEqual([
      ['SOURCE_UNREACHABLE', plan.source, 'spec.source'],
    ]);
    expect(JSON.stringify(engine.world.truth().mutations)).toBe(mutationsBefore);
    expect((await engine.client.get(id)).status).toBe('completed');
    const names = plan.vms.map((v) => v.name);
    await expectRunningAt(engine, names, plan.target);
    for (const vm of names)
      expect((await vmAt(engine, plan.target, vm)).replication?.state).toBe('FailedOverWaitingCompletion');
  });
});
