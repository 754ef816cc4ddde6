/**
 * Script actions against the engine's script catalog at pre-flight: the catalog the workers of
 * the site where each script runs announce (engine/executor catalog-announce.ts), not one the
 * submitting process names. Regression (issue 10): pre-flight checked the CLI's catalog while
 * the worker had none, so the run failed at `update-dns`.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readServedCatalogs } from '../../engine/executor/index.ts';
import { loadExample, startTestEngine, type TestEngine } from '../engine/support.ts';
import { testRedisClient } from '../support/redis.ts';
import { blockerCodes, gateWorld, refused } from './support.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Example = Awaited<ReturnType<typeof loadExample>>;

/** Workers of every site of three-tier, serving `catalog` (none when undefined); no orchestrator. */
async function setUp(catalog: string | undefined): Promise<{ engine: TestEngine; plan: Example }> {
  const example = await loadExample('plans/examples/three-tier.yaml');
  const engine = await startTestEngine(example.plan, {
    world: gateWorld(example.plan),
    orchestrator: false,
    ...(catalog === undefined ? {} : { catalog }),
  });
  cleanups.push(() => engine.close());
  return { engine, plan: example };
}

/** A catalog folder holding only the named entries of the shipped one. */
async function catalogWith(names: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'drorch-gate-catalog-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const name of names) await copyFile(join('scripts/catalog', `${name}.sh`), join(dir, `${name}.sh`));
  return dir;
}

function mutatingCalls(engine: TestEngine): number {
  let total = 0;
  for (const sites of Object.values(engine.world.truth().mutations))
    for (const ops of Object.values(sites)) for (const count of Object.values(ops)) total += count;
  return total;
}

describe("pre-flight checks script actions against the catalog the site's workers serve", () => {
  it('refuses the run before anything runs when the workers of dc-west serve no catalog, whatever the submitter has', async () => {
    // The submitting process names a catalog of its own: it does not count.
    const previous = process.env.DR_SCRIPT_CATALOG;
    const { engine, plan } = await setUp(undefined);
    process.env.DR_SCRIPT_CATALOG = 'scripts/catalog';
    cleanups.push(async () => {
      if (previous === undefined) delete process.env.DR_SCRIPT_CATALOG;
      else process.env.DR_SCRIPT_CATALOG = previous;
    });
    const before = mutatingCalls(engine);
    const report = await refused(
      engine.client.submit({ type: 'planned', plan: plan.plan, hash: plan.hash, reason: 'gate' }),
    );
    expect(blockerCodes(report)).toEqual(['NO_SCRIPT_CATALOG']);
    const blocker = report.blockers[0]!;
    const index = plan.plan.actions.findIndex((action) => action.name === 'update-dns');
    expect(blocker.path).toBe(`spec.actions[${index}].script`);
    expect(blocker.site).toBe('dc-west');
    expect(blocker.message).toContain('no worker of dc-west serves a script catalog');
    expect(blocker.hint).toContain('drctl agent --site dc-west --script-catalog <dir>');
    expect(await engine.client.list()).toEqual([]);
    expect(mutatingCalls(engine)).toBe(before);
  });

  it("refuses a run whose undo script is not in the workers' catalog, naming the site and their folder", async () => {
    const folder = await catalogWith(['update-dns']);
    const { engine, plan } = await setUp(folder);
    const report = await refused(
      engine.client.submit({ type: 'planned', plan: plan.plan, hash: plan.hash, reason: 'gate' }),
    );
    expect(blockerCodes(report)).toEqual(['SCRIPT_NOT_IN_CATALOG']);
    const blocker = report.blockers[0]!;
    const index = plan.plan.actions.findIndex((action) => action.name === 'update-dns');
    expect(blocker.path).toBe(`spec.actions[${index}].undo.script`);
    expect(blocker.message).toContain('restore-dns');
    expect(blocker.message).toContain('of dc-west');
    expect(blocker.message).toContain(folder);
    expect(await engine.client.list()).toEqual([]);
  });

  it('lets the run through when the workers serve every script (the shipped catalog), each with its hash', async () => {
    const { engine, plan } = await setUp('scripts/catalog');
    const redis = testRedisClient();
    cleanups.push(() => redis.quit());
    const served = await readServedCatalogs(redis, engine.prefix, 'dc-west');
    expect(served).toHaveLength(1);
    expect(served[0]?.folder).toBe('scripts/catalog');
    expect(served[0]?.scripts['update-dns']).toMatch(/^[0-9a-f]{64}$/);
    const dry = await engine.client.preflight({ type: 'planned', plan: plan.plan });
    expect(dry.blockers).toEqual([]);
    const { id } = await engine.client.submit({
      type: 'planned',
      plan: plan.plan,
      hash: plan.hash,
      reason: 'gate',
    });
    expect(id).toMatch(/^planned-/);
  });

  it('a worker that stops withdraws its catalog: the next run is refused again', async () => {
    const { engine, plan } = await setUp('scripts/catalog');
    expect((await engine.client.preflight({ type: 'planned', plan: plan.plan })).blockers).toEqual([]);
    for (const workers of engine.workers) await workers.close(2000);
    const report = await engine.client.preflight({ type: 'planned', plan: plan.plan });
    expect(blockerCodes(report)).toEqual(['NO_SCRIPT_CATALOG']);
    expect(report.blockers[0]?.message).toContain('no worker of dc-west is running');
  });

  it('checks only the actions the run takes: not those of VMs left out, nor those of other failover types', async () => {
    const { engine, plan } = await setUp(await catalogWith([]));
    const subset = await engine.client.preflight({
      type: 'planned',
      plan: plan.plan,
      selection: { vms: ['sql-01'] },
    });
    expect(blockerCodes(subset)).not.toContain('SCRIPT_NOT_IN_CATALOG');
    // update-dns runs on planned and unplanned failovers only: a drill does not need it.
    const drill = await engine.client.preflight({ type: 'test', plan: plan.plan });
    expect(blockerCodes(drill)).not.toContain('SCRIPT_NOT_IN_CATALOG');
    const failover = await engine.client.preflight({ type: 'planned', plan: plan.plan });
    expect(blockerCodes(failover)).toContain('SCRIPT_NOT_IN_CATALOG');
  });
});
