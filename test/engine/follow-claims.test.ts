/**
 * The claim of follow units (events.ts APPEND_SCRIPT) against real Redis: a worker that finishes a
 * unit claims the units that wait only for it, atomically with publishing its result, so that
 * each runs once, never after the plan failed or a cancel, and a repeated run of the unit gets
 * the same decision.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStreamWriter,
  executionKeys,
  type FollowClaim,
  readCompletions,
} from '../../engine/executor/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

const at = '2026-01-01T00:00:00.000Z';
const result = (...ids: string[]) => ({
  v: 1 as const,
  steps: ids.map((id) => ({ id, outcome: 'done' as const, startedAt: at, endedAt: at })),
});
const app = ['app/failover', 'app/boot', 'app/readiness'];
const web = ['web/failover', 'web/boot', 'web/readiness'];
const QUEUED = 'q|1|db/failover';

describe('claiming follow units with a result', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** A fresh execution's keys and a writer; `claim` for the unit db with the follows given. */
  function setup(follows: string[][] = [app, web], ok = true) {
    const prefix = uniquePrefix('claims');
    const keys = executionKeys(prefix, 'ex1');
    const writer = createStreamWriter(redis, prefix);
    const claim: FollowClaim = { k: 'ex1.db/failover|db/failover', q: QUEUED, ok, u: follows };
    const publish = (c: FollowClaim = claim) =>
      writer.publish('ex1', 'ex1.db/failover', result('db/failover', 'db/boot', 'db/readiness'), c);
    return { prefix, keys, claim, publish };
  }

  it('claims follows whose steps were never touched: stored queued in the job, named in the entry', async () => {
    const { prefix, keys, publish } = setup();
    expect(await publish()).toEqual([app, web]);
    const steps = await redis.hgetall(keys.steps);
    for (const id of [...app, ...web]) expect(steps[id]).toBe(QUEUED);
    const [completion] = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completion?.jobId).toBe('ex1.db/failover');
    expect(completion?.result.claimed).toEqual([app, web]);
    expect(completion?.result.steps.map((s) => s.id)).toEqual(['db/failover', 'db/boot', 'db/readiness']);
  });

  it('leaves a follow whose first step the orchestrator already holds or decided', async () => {
    const { keys, publish } = setup();
    await redis.hset(keys.steps, 'web/failover', 'q|1|web/failover');
    expect(await publish()).toEqual([app]);
    expect(await redis.hget(keys.steps, 'web/failover')).toBe('q|1|web/failover');
    expect(await redis.hget(keys.steps, 'web/boot')).toBeNull();
  });

  it.each([
    ['the plan failed', 'halted', 'web-01/readiness: READINESS_TIMEOUT'],
    ['a cancel was asked for', 'cancelRequested', 'ops: rollback'],
  ])('claims nothing once %s', async (_why, field, value) => {
    const { prefix, keys, publish } = setup();
    await redis.hset(keys.meta, field, value);
    expect(await publish()).toEqual([]);
    expect(await redis.hlen(keys.steps)).toBe(0);
    const [completion] = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completion?.result.claimed).toBeUndefined();
  });

  it('decides once per unit run: a unit that failed releases nothing, even when its job runs again and succeeds', async () => {
    const { keys, claim, publish } = setup([app], false);
    expect(await publish()).toEqual([]);
    expect(await publish({ ...claim, ok: true })).toEqual([]);
    expect(await redis.hlen(keys.steps)).toBe(0);
  });

  it('gives a repeated run the same follows, less those no longer queued in the job', async () => {
    const { prefix, keys, publish } = setup();
    expect(await publish()).toEqual([app, web]);
    expect(await publish()).toEqual([app, web]);
    // The orchestrator recorded app's result: a third run does not run app again.
    await redis.hset(keys.steps, 'app/failover', 'done|1', 'app/boot', 'done|1', 'app/readiness', 'done|1');
    expect(await publish()).toEqual([web]);
    const completions = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completions.map((c) => c.result.claimed)).toEqual([[app, web], [app, web], [web]]);
  });

  it('claims for several units of one tick in one script, each its own decision', async () => {
    const prefix = uniquePrefix('claims');
    const keys = executionKeys(prefix, 'ex1');
    const writer = createStreamWriter(redis, prefix);
    const both = await Promise.all([
      writer.publish('ex1', 'ex1.a/failover', result('a/failover'), {
        k: 'ex1.a/failover|a/failover',
        q: 'q|1|a/failover',
        ok: true,
        u: [app],
      }),
      writer.publish('ex1', 'ex1.a/failover', result('b/failover'), {
        k: 'ex1.a/failover|b/failover',
        q: 'q|1|a/failover',
        ok: true,
        // app is the first unit's already
        u: [app, web],
      }),
      writer.publish('ex1', 'ex1.a/failover', result('c/failover')),
    ]);
    expect(both).toEqual([[app], [web], []]);
    expect(await redis.hget(keys.steps, 'web/readiness')).toBe('q|1|a/failover');
  });
});
