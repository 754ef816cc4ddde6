/**
 * The claim of follow units (events.ts APPEND_SCRIPT) against real Redis: a worker that finishes a
 * unit claims the units that wait only for units of its job, atomically with publishing its
 * result, so that each runs once (claimed by the last of the units it waits for), never after the
 * plan failed or a cancel, and a repeated run of a unit gets the same decision.
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
const JOB = 'ex1.db/failover';
const QUEUED = 'q|1|db/failover';
const app = ['app/failover', 'app/boot', 'app/readiness'];
const web = ['web/failover', 'web/boot', 'web/readiness'];

/** A unit's result: every step done, or the last one failed. */
function result(steps: string[], failed = false) {
  return {
    v: 1 as const,
    steps: steps.map((id, i) => ({
      id,
      outcome: failed && i === steps.length - 1 ? ('failed' as const) : ('done' as const),
      startedAt: at,
      endedAt: at,
    })),
  };
}

describe('claiming follow units with a result', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** A fresh execution; `publish(unit, follows)` publishes the unit `<unit>/failover` of job JOB. */
  function setup() {
    const prefix = uniquePrefix('claims');
    const keys = executionKeys(prefix, 'ex1');
    const writer = createStreamWriter(redis, prefix);
    // The orchestrator queued these units in JOB (follows are queued there by their claim).
    const queued = new Set<string>();
    const publish = async (vm: string, follows: FollowClaim['u'], ok = true) => {
      const steps = [`${vm}/failover`, `${vm}/boot`];
      if (!queued.has(vm)) {
        queued.add(vm);
        if (!(await redis.hexists(keys.steps, steps[0] as string))) {
          await redis.hset(keys.steps, steps[0] as string, QUEUED, steps[1] as string, QUEUED);
        }
      }
      const claim: FollowClaim = { j: JOB, s: steps[0] as string, q: QUEUED, ok, u: follows };
      return await writer.publish('ex1', JOB, result(steps, !ok), claim);
    };
    return { prefix, keys, writer, publish };
  }
  const waitsFor = (...units: string[]) => units.map((u) => `${u}/failover`);

  it('claims follows whose steps were never touched: stored queued in the job, named in the entry', async () => {
    const { prefix, keys, publish } = setup();
    expect(
      await publish('db', [
        { s: app, p: waitsFor('db') },
        { s: web, p: waitsFor('db') },
      ]),
    ).toEqual([app, web]);
    const steps = await redis.hgetall(keys.steps);
    for (const id of [...app, ...web]) expect(steps[id]).toBe(QUEUED);
    expect(Object.keys(steps)).toHaveLength(8);
    const [completion] = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completion?.jobId).toBe(JOB);
    expect(completion?.result.claimed).toEqual([app, web]);
    expect(completion?.result.steps.map((s) => s.id)).toEqual(['db/failover', 'db/boot']);
  });

  it('leaves a follow whose first step the orchestrator already holds or decided', async () => {
    const { keys, publish } = setup();
    await redis.hset(keys.steps, 'web/failover', 'q|1|web/failover');
    expect(
      await publish('db', [
        { s: app, p: waitsFor('db') },
        { s: web, p: waitsFor('db') },
      ]),
    ).toEqual([app]);
    expect(await redis.hget(keys.steps, 'web/failover')).toBe('q|1|web/failover');
    expect(await redis.hget(keys.steps, 'web/boot')).toBeNull();
  });

  it('lets the last of the units a follow waits for claim it, and only when all ended well', async () => {
    const { keys, publish } = setup();
    // web waits for app-a and app-b (units of the job): the first to end claims nothing.
    expect(await publish('app-a', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([]);
    expect(await redis.hget(keys.steps, 'web/failover')).toBeNull();
    expect(await publish('app-b', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([web]);

    const other = setup();
    expect(await other.publish('app-a', [{ s: web, p: waitsFor('app-a', 'app-b') }], false)).toEqual([]);
    expect(await other.publish('app-b', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([]);
    expect(await redis.hget(other.keys.steps, 'web/failover')).toBeNull();
  });

  it('claims nothing with a result the orchestrator already gave up on (a stale run of the job)', async () => {
    const { keys, publish } = setup();
    // Reconcile failed the job while this run went on: db is waiting for its second attempt.
    await redis.hset(keys.steps, 'db/failover', 'pending|2', 'db/boot', 'pending|2');
    expect(await publish('db', [{ s: app, p: waitsFor('db') }])).toEqual([]);
    expect(await redis.hget(keys.steps, 'app/failover')).toBeNull();

    // web waits for app-a (ended well, then given up on by the orchestrator) and app-b.
    const other = setup();
    expect(await other.publish('app-a', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([]);
    await redis.hset(other.keys.steps, 'app-a/failover', 'failed|1');
    expect(await other.publish('app-b', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([]);
    // ... but recorded done, it counts.
    const third = setup();
    expect(await third.publish('app-a', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([]);
    await redis.hset(third.keys.steps, 'app-a/failover', 'done|1');
    expect(await third.publish('app-b', [{ s: web, p: waitsFor('app-a', 'app-b') }])).toEqual([web]);
  });

  it.each([
    ['the plan failed', 'halted', 'web-01/readiness: READINESS_TIMEOUT'],
    ['a cancel was asked for', 'cancelRequested', 'ops: rollback'],
  ])('claims nothing once %s', async (_why, field, value) => {
    const { prefix, keys, publish } = setup();
    await redis.hset(keys.meta, field, value);
    expect(await publish('db', [{ s: app, p: waitsFor('db') }])).toEqual([]);
    expect(await redis.hget(keys.steps, 'app/failover')).toBeNull();
    const [completion] = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completion?.result.claimed).toBeUndefined();
  });

  it('decides once per unit run: a unit that failed releases nothing, even when its job runs again and succeeds', async () => {
    const { keys, publish } = setup();
    expect(await publish('db', [{ s: app, p: waitsFor('db') }], false)).toEqual([]);
    expect(await publish('db', [{ s: app, p: waitsFor('db') }], true)).toEqual([]);
    expect(await redis.hget(keys.steps, 'app/failover')).toBeNull();
  });

  it('gives a repeated run the same follows, less those no longer queued in the job', async () => {
    const { prefix, keys, publish } = setup();
    const follows = [
      { s: app, p: waitsFor('db') },
      { s: web, p: waitsFor('db') },
    ];
    expect(await publish('db', follows)).toEqual([app, web]);
    expect(await publish('db', follows)).toEqual([app, web]);
    // The orchestrator recorded app's result: a third run does not run app again.
    await redis.hset(keys.steps, 'app/failover', 'done|1', 'app/boot', 'done|1', 'app/readiness', 'done|1');
    expect(await publish('db', follows)).toEqual([web]);
    const completions = await readCompletions(redis, prefix, 'ex1', '0');
    expect(completions.map((c) => c.result.claimed)).toEqual([[app, web], [app, web], [web]]);
  });

  it('decides the claims of several units of one tick in one script, in order', async () => {
    const { keys, writer } = setup();
    await redis.hset(keys.steps, 'a/failover', QUEUED, 'b/failover', QUEUED);
    const claim = (unit: string, u: FollowClaim['u']): FollowClaim => ({
      j: JOB,
      s: unit,
      q: QUEUED,
      ok: true,
      u,
    });
    // Published in one tick: one script, decided in order.
    const both = await Promise.all([
      writer.publish('ex1', JOB, result(['a/failover']), claim('a/failover', [{ s: app, p: waitsFor('a') }])),
      // web waits for a and b; app is a's already
      writer.publish(
        'ex1',
        JOB,
        result(['b/failover']),
        claim('b/failover', [
          { s: app, p: waitsFor('a') },
          { s: web, p: waitsFor('a', 'b') },
        ]),
      ),
      writer.publish('ex1', JOB, result(['c/failover'])),
    ]);
    expect(both).toEqual([[app], [web], []]);
    expect(await redis.hget(keys.steps, 'web/readiness')).toBe(QUEUED);
  });
});
