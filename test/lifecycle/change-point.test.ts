import { afterEach, describe, expect, it } from 'vitest';
import { submitChangePoint, submitCommit } from '../../engine/executor/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { judgeClaim } from '../support/judge.ts';
import {
  type LifecycleEngine,
  refusal,
  settled,
  smallPlan,
  startLifecycleEngine,
  vmAt,
  who,
} from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('change of recovery point before commit', () => {
  it('fails the VMs over again from an older point; its data-loss claim stands before the ledger; commit follows', async () => {
    const { plan, hash } = smallPlan('cp1');
    engine = await startLifecycleEngine(plan);
    const world = engine.world;
    world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
    const { id } = await engine.client.submit({
      type: 'unplanned',
      plan,
      hash,
      reason: 'east lost',
      recoveryPoint: { kind: 'latest' },
    });
    const first = await waitForStatus(engine.client, id, ['completed', 'failed']);
    expect(first.status).toBe('completed');
    const before = new Map((first.dataLoss ?? []).map((d) => [d.vm, d.windowMs]));

    // Ransomware replicated: go back two hours.
    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...who,
      recoveryPoint: { kind: 'at', at },
    });
    expect((await engine.client.get(id)).status).toBe('changing-point');
    const view = await settled(engine, change);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');

    const truth = world.truth();
    for (const vm of plan.vms) {
      const records = truth.failovers.filter((f) => f.vm === vm.name && f.kind !== 'test');
      expect(records).toHaveLength(2);
      expect(records[0]?.cancelledAt).toBeDefined();
      const current = records[1];
      expect(current?.cancelledAt).toBeUndefined();
      expect(Date.parse(current?.recoveryPoint.time ?? '')).toBeLessThanOrEqual(Date.parse(at));
      const entry = view.dataLoss?.find((d) => d.vm === vm.name);
      if (entry === undefined || current === undefined) throw new Error(`no claim or record for ${vm.name}`);
      expect(judgeClaim(entry, current, { intervalMs: 30_000, writeGapMs: 100 })).toEqual([]);
      expect(entry.recoveryPointTime).toBe(current.recoveryPoint.time);
      expect(entry.windowMs).toBeGreaterThan(before.get(vm.name) ?? Number.POSITIVE_INFINITY);
      expect(truth.vms[vm.name]?.primarySites).toEqual([plan.target]);
      const replica = await vmAt(engine, plan.target, vm.name);
      expect(replica.state).toBe('Running');
    }
    expect(truth.splitBrain).toEqual([]);
    const failover = await engine.client.get(id);
    expect(failover.status).toBe('completed');
    expect(new Map((failover.dataLoss ?? []).map((d) => [d.vm, d]))).toEqual(
      new Map((view.dataLoss ?? []).map((d) => [d.vm, d])),
    );

    const commit = await submitCommit(engine.redis, engine.prefix, id, who);
    expect((await settled(engine, commit)).status).toBe('completed');
    for (const vm of plan.vms)
      expect((await vmAt(engine, plan.target, vm.name)).replication?.state).toBe('FailedOver');
  });

  it('refuses while the failover runs and a second change while one runs', async () => {
    const { plan, hash } = smallPlan('cp2');
    engine = await startLifecycleEngine(plan, { orchestrator: false });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    const running = await refusal(
      submitChangePoint(engine.redis, engine.prefix, id, { ...who, recoveryPoint: { kind: 'latest' } }),
    );
    expect(running.code).toBe('FAILOVER_RUNNING');
    await engine.startOrchestrator();
    await waitForStatus(engine.client, id, ['completed']);
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...who,
      recoveryPoint: { kind: 'latestProcessed' },
    });
    // The same operation again is answered with the one in progress; another kind is refused.
    expect(
      await submitChangePoint(engine.redis, engine.prefix, id, { ...who, recoveryPoint: { kind: 'latest' } }),
    ).toEqual({ id: change.id, created: false });
    const busy = await refusal(submitCommit(engine.redis, engine.prefix, id, who));
    expect(busy.code).toBe('LIFECYCLE_BUSY');
    // A crash between moving the failover and storing its change: asking again stores it, with
    // the point first asked for (not the one asked the second time).
    await engine.redis.del(
      `${engine.prefix}:{exec:${change.id}}:meta`,
      `${engine.prefix}:{exec:${change.id}}:plan`,
    );
    const again = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...who,
      recoveryPoint: { kind: 'latest' },
    });
    expect(again).toMatchObject({ id: change.id, created: true });
    expect((await engine.client.get(change.id)).recoveryPoint).toEqual({ kind: 'latestProcessed' });
    await engine.startOrchestrator();
    expect((await settled(engine, change)).status).toBe('completed');
  });
});
