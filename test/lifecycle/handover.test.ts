/**
 * A lifecycle execution is an execution like any other: when its orchestrator goes away mid-way,
 * another one picks it up from Redis, and the hosts see every mutating call once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { submitCancel } from '../../engine/executor/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { type LifecycleEngine, settled, smallPlan, startLifecycleEngine, vmAt } from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('a cancel whose orchestrator stops mid-way', () => {
  it('is finished by the next orchestrator; each primary started once, never two sites at once', async () => {
    const { plan, hash } = smallPlan('h1');
    // Slow enough that the restores (which wait for the guest) are still running at the handover.
    engine = await startLifecycleEngine(plan, { speed: 60 });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000)).status).toBe(
      'completed',
    );
    const before = engine.world.truth().mutations;
    const startsBefore = (vm: string): number => before[vm]?.[plan.source]?.startVM ?? 0;

    const cancel = await submitCancel(engine.redis, engine.prefix, id, engine.who);
    // The reverts are done and the first restore is under way: stop this orchestrator.
    for (;;) {
      const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${cancel.id}}:steps`);
      if (
        plan.vms.every(
          (vm) => steps[`${vm.name}/revert`] === 'done|1' || steps[`${vm.name}/revert`] === 'done',
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;
    expect((await engine.client.get(cancel.id)).status).toBe('running');
    await engine.startOrchestrator();
    const view = await settled(engine, cancel, 120_000);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    expect((await engine.client.get(id)).status).toBe('cancelled');

    const truth = engine.world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of plan.vms) {
      expect(truth.vms[vm.name]?.primarySites).toEqual([plan.source]);
      expect((await vmAt(engine, plan.source, vm.name)).state).toBe('Running');
      const starts = (truth.mutations[vm.name]?.[plan.source]?.startVM ?? 0) - startsBefore(vm.name);
      // Three VMs, eight boot slots per host: no boot-limit refusal, so one Start-VM each.
      expect(starts).toBe(1);
      expect(truth.mutations[vm.name]?.[plan.target]?.stopVMFailover).toBe(1);
    }
  });
});
