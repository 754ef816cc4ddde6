import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createQueueConnection,
  executionKeys,
  readAllEvents,
  startOrchestrator,
} from '../../engine/executor/index.ts';
import { acquireLease } from '../../engine/executor/store/lease.ts';
import { emptyWrite, RECORD_SCRIPT, recordArgs } from '../../engine/executor/store/record.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { expectFailedOverOnce, stepsStartedTwice } from './checks.ts';
import { actionFixtures, loadExample, silent, startTestEngine, waitForStatus } from './support.ts';

describe('when two orchestrators run against the same executions', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample('plans/examples/sharepoint-farm.yaml', fixtures.webhookUrl));
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('only the lease holder drives an execution', async () => {
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    const second = await startOrchestrator({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      compile: compilePlan,
      logger: silent,
      pollMs: 50,
    });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'two drivers',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('completed');
      const redis = createQueueConnection(engine.redisUrl);
      const events = await readAllEvents(redis, engine.prefix, id);
      await redis.quit();
      const drivers = events.filter(
        ({ event }) => event.type === 'execution-started' || event.type === 'execution-resumed',
      );
      expect(drivers).toHaveLength(1);
      expect(await stepsStartedTwice(engine.redisUrl, engine.prefix, id)).toEqual([]);
      expectFailedOverOnce(plan, engine.world.truth());
    } finally {
      await second.close();
      await engine.close();
    }
  });

  it('a write under a lease another process holds is refused (fencing)', async () => {
    const redis = createQueueConnection(testRedisUrl());
    try {
      const keys = executionKeys(uniquePrefix('lease'), 'x');
      expect(await acquireLease(redis, keys.lease, 'owner-a', 10_000)).toBe(true);
      expect(await acquireLease(redis, keys.lease, 'owner-b', 10_000)).toBe(false);
      const write = emptyWrite();
      write.steps.push(['s', 'done|1']);
      const [, , , , , ...args] = recordArgs(keys, 'owner-b', 10_000, write);
      await expect(
        redis.eval(RECORD_SCRIPT, 5, keys.meta, keys.steps, keys.vms, keys.lease, keys.events, ...args),
      ).rejects.toThrow(/LEASE_LOST/);
      expect(await redis.hget(keys.steps, 's')).toBeNull();
    } finally {
      await redis.quit();
    }
  });
});
