/**
 * `drctl drill --recovery-point`: a drill can rehearse the point a failover would take (as Hyper-V's
 * Start-VMFailover -AsTest -VMSnapshot does). Pre-flight's RPO hint suggests "--recovery-point
 * latest" to drill users too; drill once had no such flag and refused it as unknown (exit 2).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../engine/plan/index.ts';
import type { PreflightReport } from '../../engine/preflight/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { drctl } from './support.ts';

const file = 'plans/examples/three-tier.yaml';

describe('drctl drill --recovery-point', { timeout: 120_000 }, () => {
  let world: World;
  let server: SimServer;
  const redis = testRedisClient();
  const prefix = uniquePrefix('drillrp');
  beforeAll(async () => {
    const parsed = parsePlan(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`${file} does not parse`);
    world = worldForPlan(parsed.plan, { warmupMs: 5 * 3_600_000 });
    server = await startSimServer(world.api);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await server.close();
    world.close();
  });

  const env = () => ({ REDIS_URL: testRedisUrl() });
  const sqlPoint = (stdout: string) =>
    (JSON.parse(stdout) as PreflightReport).placements.find((p) => p.vm === 'sql-01')?.recoveryPoint;

  it("overrides the plan's choice for every VM (sql-01's latestAppConsistent too), in the dry run and the run", async () => {
    const base = ['drill', file, '--sim', server.url, '--prefix', prefix, '--json'];
    const planChoice = await drctl([...base, '--dry-run'], { env: env() });
    expect(planChoice.code).toBe(0);
    const latest = await drctl([...base, '--dry-run', '--recovery-point', 'latest'], { env: env() });
    expect(latest.stderr).toBe('');
    expect(latest.code).toBe(0);
    const chosen = sqlPoint(latest.stdout);
    const appConsistent = sqlPoint(planChoice.stdout);
    expect(chosen?.kind).toBe('latest');
    expect(appConsistent?.kind).toBe('appConsistent');
    expect(Date.parse(chosen?.time ?? '')).toBeGreaterThan(Date.parse(appConsistent?.time ?? ''));

    const detached = await drctl([...base, '--detach', '--recovery-point', 'latest'], { env: env() });
    expect(detached.code).toBe(0);
    const { execution } = JSON.parse(detached.stdout) as { execution: string };
    expect(
      JSON.parse((await redis.hget(`${prefix}:{exec:${execution}}:meta`, 'recoveryPoint')) ?? 'null'),
    ).toEqual({
      kind: 'latest',
    });
  });

  it('refuses a point that is not one, as bad input naming the choices', async () => {
    const run = await drctl(['drill', file, '--sim', server.url, '--recovery-point', 'yesterday-ish'], {
      env: env(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('"yesterday-ish" is not a recovery point: use latest, latestProcessed');
  });
});
