import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import type { PrivateRedis } from '../../engine/redis/index.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { privateRedisForFaults } from '../support/redis.ts';
import { expectFailedOverOnce } from './checks.ts';
import { actionFixtures, loadExample, startTestEngine, waitForStatus } from './support.ts';

describe('when Redis (AOF) restarts in the middle of an execution', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  let redis: PrivateRedis;

  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl));
    redis = await privateRedisForFaults({ appendOnly: true });
  });
  afterAll(async () => {
    await redis?.stop();
    await fixtures?.close();
  });

  it.each([
    { how: 'shut down (SIGTERM)', hard: false },
    { how: 'killed (SIGKILL, up to 1 s of AOF lost)', hard: true },
  ])('$how: the execution completes, each VM primary in one site', async ({ hard }) => {
    const world = worldForPlan(plan, { clock: { mode: 'scaled', speed: 200 }, warmupMs: 5 * 3_600_000 });
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog, world, redisUrl: redis.url });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'redis restart',
        approveManual: true,
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        const view = await engine.client.get(id);
        if (view.stepsDone >= 6 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = await engine.client.get(id);
      expect(before.status).toBe('running');
      await redis.restart(hard);
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      expect(view.stepsDone).toBe(view.stepsTotal);
      expectFailedOverOnce(plan, world.truth());
    } finally {
      await engine.close();
    }
  });
});
