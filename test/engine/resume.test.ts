import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { acceptedCalls, expectFailedOverOnce, stepsStartedTwice } from './checks.ts';
import { spawnOrchestrator } from './processes.ts';
import { actionFixtures, loadExample, plannedBaseline, startTestEngine, waitForStatus } from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';

describe('when the orchestrator is SIGKILLed at a named point', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  let baseline: Record<string, Record<string, number>>;

  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample(PLAN, fixtures.webhookUrl));
    ({ accepted: baseline } = await plannedBaseline(plan, hash, fixtures.catalog));
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  const cases = CRASH_POINTS.flatMap((point) => [1, 3].map((after) => ({ point, after })));
  it.each(cases)(
    '$point (pass $after): a new orchestrator finishes it with the same end state',
    async ({ point, after }) => {
      const engine = await startTestEngine(plan, { catalog: fixtures.catalog, orchestrator: false });
      try {
        const { id } = await engine.client.submit({
          type: 'planned',
          plan,
          hash,
          reason: `crash ${point}`,
          approveManual: true,
        });
        const doomed = spawnOrchestrator(engine.redisUrl, engine.prefix, {
          DR_CRASH_AT: point,
          DR_CRASH_AFTER: String(after),
        });
        const exit = await doomed.exited;
        expect(exit.signal, doomed.output()).toBe('SIGKILL');
        const before = await engine.client.get(id);
        expect(before.status).toBe('running');
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
        expectFailedOverOnce(plan, truth);
        expect(acceptedCalls(truth)).toEqual(baseline);
        expect(await stepsStartedTwice(engine.redisUrl, engine.prefix, id)).toEqual([]);
      } finally {
        await engine.close();
      }
    },
  );
});
