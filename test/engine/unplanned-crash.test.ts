/**
 * A crash never leaves a VM running in two sites: the orchestrator of an unplanned failover is
 * SIGKILLed (a real process) at each named point, around the fences and around the fence deadline;
 * another finishes the execution, and the simulator's truth has no split-brain, one fence per VM
 * and no step run twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { stepsStartedTwice } from './checks.ts';
import { spawnOrchestrator } from './processes.ts';
import { actionFixtures, loadExample, startTestEngine, waitForStatus } from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';

describe('when the orchestrator of an unplanned failover is SIGKILLed', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;

  beforeAll(async () => {
    fixtures = await actionFixtures();
    const loaded = await loadExample(PLAN, fixtures.webhookUrl);
    // The VMs only: the fences and failovers are what this is about.
    plan = { ...loaded.plan, actions: [] };
    hash = loaded.hash;
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  /**
   * Returns false when the execution ended before the orchestrator passed the point `after` times
   * (a later pass of a point need not exist: units a worker started as follows are never sent).
   */
  async function crashThenFinish(
    options: { point: string; after: number; sourceDown?: boolean; fenceDeadlineMs?: number },
    check: (engine: Awaited<ReturnType<typeof startTestEngine>>, id: string) => Promise<void>,
  ): Promise<boolean> {
    const run: RecoveryPlan =
      options.fenceDeadlineMs === undefined
        ? plan
        : { ...plan, fencing: { deadlineMs: options.fenceDeadlineMs } };
    const engine = await startTestEngine(run, {
      orchestrator: false,
      ...(options.sourceDown ? { workerSites: [plan.target, 'control'] } : {}),
    });
    try {
      if (options.sourceDown) engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan: run,
        hash,
        reason: `crash ${options.point}`,
        approveManual: true,
      });
      const doomed = spawnOrchestrator(engine.redisUrl, engine.prefix, {
        DR_CRASH_AT: options.point,
        DR_CRASH_AFTER: String(options.after),
      });
      // Settled by the doomed orchestrator itself: the point was not passed that often. (An error
      // of this watch, such as the client closing at the end, leaves it to the exit.)
      const settled = waitForStatus(engine.client, id, ['completed', 'failed'], 3_600_000).then(
        () => null,
        () => new Promise<never>(() => {}),
      );
      const exit = await Promise.race([doomed.exited, settled]);
      if (exit === null) {
        await doomed.kill('SIGTERM');
        return false;
      }
      expect(exit.signal, doomed.output()).toBe('SIGKILL');
      expect((await engine.client.get(id)).status).toBe('running');
      const survivor = spawnOrchestrator(engine.redisUrl, engine.prefix);
      try {
        const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
        expect(view.error).toBeUndefined();
        expect(view.status).toBe('completed');
        expect(view.stepsDone).toBe(view.stepsTotal);
      } finally {
        await survivor.kill('SIGTERM');
      }
      const truth = engine.world.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of plan.vms) expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
      expect(truth.failovers.filter((f) => f.kind === 'unplanned')).toHaveLength(plan.vms.length);
      expect(await stepsStartedTwice(engine.redisUrl, engine.prefix, id)).toEqual([]);
      await check(engine, id);
      return true;
    } finally {
      await engine.close();
    }
  }

  // CI: the second pass of each point (after some fences reported); SOAK: passes 1 to 4.
  const passes = process.env.SOAK === '1' ? [1, 2, 3, 4] : [2];
  const cases = CRASH_POINTS.flatMap((point) => passes.map((after) => ({ point, after })));
  it.for(cases)(
    'with the source up, at $point (pass $after): every old primary fenced once',
    async (c, ctx) => {
      const crashed = await crashThenFinish(c, async (engine) => {
        const truth = engine.world.truth();
        for (const vm of plan.vms) {
          expect(truth.mutations[vm.name]?.[plan.source], vm.name).toEqual({ fenceVM: 1 });
          expect(truth.mutations[vm.name]?.[plan.target]?.['startVMFailover.failover'], vm.name).toBe(1);
        }
      });
      // Passes 1 and 2 always exist (the fences, then sql-01's failover); later ones depend on how
      // many units the orchestrator itself sends this time.
      if (!crashed && c.after <= 2) throw new Error(`${c.point} was not passed ${c.after} times`);
      if (!crashed) ctx.skip(`the orchestrator passed ${c.point} fewer than ${c.after} times this run`);
    },
  );

  it('with the source down, right after recording the fences warned at the deadline (before dispatching)', async () => {
    // Pass 1 dispatches the fences; pass 2 is the batch that records them warned and releases
    // sql-01's failover: recorded queued, never sent. The next orchestrator sends it.
    const crashed = await crashThenFinish(
      { point: 'after-record-before-dispatch', after: 2, sourceDown: true, fenceDeadlineMs: 1_000 },
      async (engine, id) => {
        const events = [];
        for await (const { event } of engine.client.events(id)) events.push(event);
        for (const vm of plan.vms) {
          const fence = events.filter((e) => e.type === 'step-finished' && e.step === `${vm.name}/fence`);
          expect(fence, vm.name).toEqual([
            expect.objectContaining({
              outcome: 'warned',
              error: expect.objectContaining({ code: 'NOT_FENCED' }),
            }),
          ]);
        }
        expect(events.some((e) => e.type === 'execution-resumed')).toBe(true);
      },
    );
    expect(crashed).toBe(true);
  });
});
