import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { acceptedCalls, expectFailedOverOnce, stepsStartedTwice } from './checks.ts';
import { seeded, spawnOrchestrator } from './processes.ts';
import { actionFixtures, loadExample, plannedBaseline, startTestEngine, waitForStatus } from './support.ts';

// CI: a 22-VM farm (fast); SOAK: the 200-VM estate, 200 seeds.
const PLAN =
  process.env.SOAK === '1' ? 'plans/examples/estate-200.yaml' : 'plans/examples/sharepoint-farm.yaml';
// SOAK_SEEDS bounds a soak run to fit the time at hand (the note says how many ran).
const SEEDS = Number(process.env.SOAK_SEEDS ?? (process.env.SOAK === '1' ? 200 : 20));
const AT_ONCE = 4;

describe('when the orchestrator is SIGKILLed at a random moment', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  let baseline: Record<string, Record<string, number>>;
  let runMs = 1000;

  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample(PLAN, fixtures.webhookUrl));
    ({ accepted: baseline, runMs } = await plannedBaseline(plan, hash, fixtures.catalog));
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  async function killAndResume(seed: number): Promise<void> {
    const random = seeded(seed);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog, orchestrator: false });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: `seed ${seed}`,
        approveManual: true,
      });
      const doomed = spawnOrchestrator(engine.redisUrl, engine.prefix, { LOG_LEVEL: 'warn' });
      await doomed.ready;
      // Between the first dispatch and the last completion.
      await waitForStatus(engine.client, id, ['running', 'completed', 'failed'], 60_000);
      await new Promise((r) => setTimeout(r, Math.floor(random() * runMs)));
      await doomed.kill('SIGKILL');
      const survivor = spawnOrchestrator(engine.redisUrl, engine.prefix, { LOG_LEVEL: 'warn' });
      try {
        await survivor.ready;
        const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 90_000).catch(
          (error: Error) => {
            throw new Error(`${error.message}\nsurvivor: ${survivor.output()}\ndoomed: ${doomed.output()}`);
          },
        );
        expect(view.error, `seed ${seed}`).toBeUndefined();
        expect(view.status).toBe('completed');
      } finally {
        await survivor.kill('SIGTERM');
      }
      const truth = engine.world.truth();
      expectFailedOverOnce(plan, truth);
      expect(acceptedCalls(truth), `seed ${seed}`).toEqual(baseline);
      expect(await stepsStartedTwice(engine.redisUrl, engine.prefix, id), `seed ${seed}`).toEqual([]);
    } finally {
      await engine.close();
    }
  }

  const batches = Array.from({ length: Math.ceil(SEEDS / AT_ONCE) }, (_, b) =>
    Array.from({ length: Math.min(AT_ONCE, SEEDS - b * AT_ONCE) }, (_, i) => b * AT_ONCE + i + 1),
  );
  it.each(batches)(
    'seeds %j: the execution ends as if nothing happened',
    async (...seeds: number[]) => {
      await Promise.all(seeds.map((seed) => killAndResume(seed)));
    },
    300_000,
  );
});
