/**
 * Issue 10: pre-flight measured a lost site's loss up to "now" (7, then 30 minutes, for a VM whose
 * true loss was 20 s) and raised false RPO blockers. It measures it to when the primary was last
 * seen: the source site's last heartbeat as the engine recorded it (the site agent's turns,
 * engine/locks sightings), or the replica's last replication.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type SiteWorkers, startSiteWorkers } from '../../engine/executor/index.ts';
import { createLockReader, createSightingStore } from '../../engine/locks/index.ts';
import { runPreflight } from '../../engine/preflight/index.ts';
import { type World, worldForPlan } from '../../simulators/index.ts';
import { silent } from '../engine/support.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { makePlan } from './fixtures.ts';

const plan = makePlan([{ name: 'sql-01' }], { targets: { rpoMs: 5 * 60_000 } });
const redis = testRedisClient();
let world: World | undefined;
let agent: SiteWorkers | undefined;
afterEach(async () => {
  await agent?.close(2000);
  agent = undefined;
  world?.close();
});
afterAll(async () => {
  await redis.quit();
});

describe('pre-flight of an unplanned failover after the source site was lost', () => {
  it('measures the loss to the site last seen (~20 s, at least), not to now: no RPO blocker 30 min later', async () => {
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const w = world;
    const prefix = uniquePrefix('lost');
    // The latest point, then 20 s of writes it does not hold (cycles every 30 s).
    const lastReplication = async () =>
      Date.parse((await w.api.getVM(plan.target, 'sql-01')).replication?.lastReplicationTime ?? '');
    for (let i = 0; i < 40 && Date.parse(await w.api.now()) - (await lastReplication()) !== 20_000; i++)
      w.advance(1_000);
    const pointAt = await lastReplication();
    expect(Date.parse(await w.api.now()) - pointAt).toBe(20_000);

    // The source site's agent is up until the outage: its turns are the site's heartbeat.
    agent = startSiteWorkers({
      redisUrl: testRedisUrl(),
      prefix,
      site: plan.source,
      api: w.api,
      logger: silent,
      fenceSweepMs: 20,
    });
    await agent.ready();
    const outage = await w.api.now();
    const seen = createSightingStore(redis, prefix);
    for (let tries = 0; ; tries++) {
      if ((await seen.read(plan.source, ['sql-01'])).get('sql-01')?.siteHeartbeatAt === outage) break;
      if (tries > 500) throw new Error('no heartbeat of the source site recorded');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    w.fault({ kind: 'site-power', site: plan.source, state: 'off' });
    w.advance(30 * 60_000);

    const report = await runPreflight({
      plan,
      api: w.api,
      type: 'unplanned',
      locks: createLockReader(redis, prefix),
    });
    expect(report.blockers.map((b) => b.code)).not.toContain('RPO_NOT_MET');
    expect(report.warnings.map((b) => b.code)).not.toContain('RPO_NOT_MET');
    const point = report.placements[0]?.recoveryPoint;
    // The point's age is past the RPO (what was measured before); the loss is what counts.
    expect(point?.ageMs).toBe(30 * 60_000 + 20_000);
    expect(point?.loss).toMatchObject({ ms: 20_000, bound: 'atLeast' });
    expect(point?.loss?.basis).toContain(`last known able to write at ${outage} (dc-east heartbeat)`);

    // Without the engine's records, only the replica's last replication is known: at least 0 s.
    const bare = await runPreflight({ plan, api: w.api, type: 'unplanned' });
    expect(bare.blockers.map((b) => b.code)).not.toContain('RPO_NOT_MET');
    expect(bare.placements[0]?.recoveryPoint?.loss).toMatchObject({ ms: 0, bound: 'atLeast' });
  });

  it('still blocks when the primary runs on at a reachable source and its point is older than the RPO', async () => {
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const w = world;
    w.fault({ kind: 'link', from: plan.source, to: plan.target, state: 'down' });
    w.advance(10 * 60_000);
    const report = await runPreflight({ plan, api: w.api, type: 'unplanned' });
    const rpo = report.blockers.find((b) => b.code === 'RPO_NOT_MET');
    expect(rpo?.message).toMatch(/would lose at least 10m( \d+s)? of writes/);
    expect(report.placements[0]?.recoveryPoint?.loss?.bound).toBe('atLeast');
  });
});
