import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullJobKey, createQueueConnection, siteQueueName, stepJobId } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { startSimServer, worldForPlan } from '../../simulators/index.ts';
import { acceptedCalls, expectFailedOverOnce, stepsStartedTwice } from './checks.ts';
import { spawnDrctl } from './processes.ts';
import { actionFixtures, loadExample, plannedBaseline, startTestEngine, waitForStatus } from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';

describe('when the target site worker is SIGKILLed mid-boot', () => {
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

  it.each([
    ['the first VM to boot', undefined],
    // app-01 waits only for sql-01: the worker that ran sql-01 claimed it and runs it in sql-01's
    // job (a follow unit); the job run again must run it again, with the same claim.
    ['a follow unit (app-01, started by the worker that ran sql-01)', 'app-01'],
    // web-01 waits for app-01 and app-02, follows of sql-01: the last of them to end claimed it.
    // Run again, sql-01 and both apps are done and do not run again; web-01 must still be run.
    ['a follow of follows (web-01, claimed by the last app tier VM to end)', 'web-01'],
  ])('another worker picks the boot of %s up; the VM is started once', async (_what, killIn) => {
    // Slow time: a boot lasts a few hundred ms, long enough to kill the worker inside it.
    const world = worldForPlan(plan, { clock: { mode: 'scaled', speed: 100 }, warmupMs: 5 * 3_600_000 });
    const engine = await startTestEngine(plan, {
      catalog: fixtures.catalog,
      world,
      workerSites: [plan.source, 'control'],
    });
    const sim = await startSimServer(world.api);
    const workerArgs = [
      'worker',
      '--site',
      plan.target,
      '--sim',
      sim.url,
      '--prefix',
      engine.prefix,
      '--lock-duration-ms',
      '1000',
      '--stalled-interval-ms',
      '500',
      '--script-catalog',
      fixtures.catalog,
    ];
    const env = { REDIS_URL: engine.redisUrl };
    const first = spawnDrctl(workerArgs, env);
    let second: ReturnType<typeof spawnDrctl> | undefined;
    try {
      await first.ready;
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'worker kill',
        approveManual: true,
      });
      const controller = new AbortController();
      let killedIn: string | undefined;
      for await (const { event } of engine.client.events(id, { follow: true, signal: controller.signal })) {
        if (
          event.type === 'vm-phase' &&
          event.phase === 'booting' &&
          event.site === plan.target &&
          (killIn === undefined || event.vm === killIn)
        ) {
          killedIn = event.vm;
          await first.kill('SIGKILL');
          controller.abort();
        }
      }
      expect(killedIn).toBeDefined();
      second = spawnDrctl(workerArgs, env);
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = world.truth();
      expectFailedOverOnce(plan, truth);
      expect(acceptedCalls(truth)).toEqual(baseline);
      // The killed job really ran again (its steps started twice), and its state checks absorbed it.
      const repeated = await stepsStartedTwice(engine.redisUrl, engine.prefix, id);
      expect(repeated.some((step) => step.startsWith(`${killedIn}/`))).toBe(true);
      if (killIn !== undefined) {
        // It was a follow unit: no job of its own.
        const redis = createQueueConnection(engine.redisUrl);
        const own = await redis.exists(
          bullJobKey(engine.prefix, siteQueueName(plan.target), stepJobId(id, `${killIn}/failover`)),
        );
        await redis.quit();
        expect(own).toBe(0);
      }
    } finally {
      await first.kill('SIGKILL');
      await second?.kill('SIGTERM');
      await engine.close();
      await sim.close();
    }
  });
});
