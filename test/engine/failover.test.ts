import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRecoveryPointGap } from '../../engine/client/index.ts';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import { judgeClaim, ledgerFailover } from '../support/judge.ts';
import { actionFixtures, loadExample, startTestEngine, waitForStatus } from './support.ts';

const examples = readdirSync('plans/examples')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `plans/examples/${f}`);

describe.each(examples)('failover of %s', (path) => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('planned: every VM primary only at the target, no data loss, dependencies ready before boots', async () => {
    const { plan, hash } = await loadExample(path, fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'move to west',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = engine.world.truth();
      for (const vm of plan.vms) expect(truth.vms[vm.name]?.primarySites).toEqual([plan.target]);
      expect(truth.splitBrain).toEqual([]);
      // Zero loss, proven by the engine without the ledger (exact, empty window); the ledger agrees.
      expect(view.dataLoss?.map((d) => [d.vm, d.bound, d.windowMs])).toEqual(
        plan.vms.map((vm) => [vm.name, 'exact', 0]),
      );
      for (const vm of plan.vms) expect(ledgerFailover(truth, vm.name, 'planned')?.lostWrites).toBe(0);
      // A VM boots only when all its dependencies are ready.
      const redis = createQueueConnection(engine.redisUrl);
      const events = await readAllEvents(redis, engine.prefix, id);
      await redis.quit();
      const readyAt = new Map<string, number>();
      const bootAt = new Map<string, number>();
      events.forEach(({ event }, index) => {
        if (event.type === 'vm-phase' && event.phase === 'ready' && !readyAt.has(event.vm))
          readyAt.set(event.vm, index);
        if (event.type === 'vm-phase' && event.phase === 'booting' && !bootAt.has(event.vm))
          bootAt.set(event.vm, index);
      });
      for (const vm of plan.vms) {
        for (const dep of vm.dependsOn)
          expect(readyAt.get(dep) ?? Infinity).toBeLessThan(bootAt.get(vm.name) ?? -1);
      }
    } finally {
      await engine.close();
    }
  });

  it('unplanned with the source site down: a data-loss claim the ledger upholds, the gap measured first', async () => {
    const { plan, hash } = await loadExample(path, fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const gap = await measureRecoveryPointGap(engine.world.api, plan);
      expect(gap.vms.every((v) => v.time !== undefined)).toBe(true);
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east is gone',
        recoveryPoint: { kind: 'latest' },
        recoveryPointGap: gap,
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      expect(view.recoveryPointGap?.spreadMs).toBe(gap.spreadMs);
      const truth = engine.world.truth();
      const failovers = truth.failovers.filter((f) => f.kind === 'unplanned');
      expect(failovers.map((f) => f.vm).sort()).toEqual(plan.vms.map((v) => v.name).sort());
      expect(view.dataLoss?.length).toBe(plan.vms.length);
      for (const claim of view.dataLoss ?? []) {
        const record = ledgerFailover(truth, claim.vm, 'unplanned');
        if (record === undefined) throw new Error(`no ledger record for ${claim.vm}`);
        expect(claim.bound, claim.vm).toBe('atLeast');
        expect(judgeClaim(claim, record, { intervalMs: 30_000, writeGapMs: 100 })).toEqual([]);
      }
      for (const vm of plan.vms) {
        const running = (await engine.world.api.getVM(plan.target, vm.name)).state;
        expect(running).toBe('Running');
      }
    } finally {
      await engine.close();
    }
  });
});
