/**
 * Script actions against the engine's script catalog at pre-flight: a run whose plan names a
 * script (or an undo script) the catalog lacks is refused before anything is stored or locked,
 * with the finding at the action's place in the plan; with every entry present it goes through.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisExecutionClient, type ExecutionClient } from '../../engine/client/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import { loadExample, startTestEngine, type TestEngine } from '../engine/support.ts';
import { blockerCodes, gateWorld, refused } from './support.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(
  catalog: string,
): Promise<{ engine: TestEngine; client: ExecutionClient; plan: Awaited<ReturnType<typeof loadExample>> }> {
  const example = await loadExample('plans/examples/three-tier.yaml');
  const engine = await startTestEngine(example.plan, { world: gateWorld(example.plan), orchestrator: false });
  cleanups.push(() => engine.close());
  const client = createRedisExecutionClient({
    redisUrl: engine.redisUrl,
    prefix: engine.prefix,
    compile: compilePlan,
    inventory: engine.world.api,
    scriptCatalog: catalog,
  });
  cleanups.push(() => client.close());
  return { engine, client, plan: example };
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

describe('pre-flight checks script actions against the script catalog', () => {
  it('refuses a run whose undo script is not in the catalog, at the action in the plan', async () => {
    const { engine, client, plan } = await setUp(await catalogWith(['update-dns']));
    const before = mutatingCalls(engine);
    const report = await refused(
      client.submit({ type: 'planned', plan: plan.plan, hash: plan.hash, reason: 'gate' }),
    );
    expect(blockerCodes(report)).toEqual(['SCRIPT_NOT_IN_CATALOG']);
    const blocker = report.blockers[0]!;
    const index = plan.plan.actions.findIndex((action) => action.name === 'update-dns');
    expect(blocker.path).toBe(`spec.actions[${index}].undo.script`);
    expect(blocker.message).toContain('restore-dns');
    expect(await client.list()).toEqual([]);
    expect(mutatingCalls(engine)).toBe(before);
  });

  it('lets the run through when every script is there (the shipped catalog)', async () => {
    const { client, plan } = await setUp('scripts/catalog');
    const dry = await client.preflight({ type: 'planned', plan: plan.plan });
    expect(dry.blockers).toEqual([]);
    const { id } = await client.submit({ type: 'planned', plan: plan.plan, hash: plan.hash, reason: 'gate' });
    expect(id).toMatch(/^planned-/);
  });

  it('checks only the actions the run takes: not those of VMs left out, nor those of other failover types', async () => {
    const { client, plan } = await setUp(await catalogWith([]));
    const subset = await client.preflight({
      type: 'planned',
      plan: plan.plan,
      selection: { vms: ['sql-01'] },
    });
    expect(blockerCodes(subset)).not.toContain('SCRIPT_NOT_IN_CATALOG');
    // update-dns runs on planned and unplanned failovers only: a drill does not need it.
    const drill = await client.preflight({ type: 'test', plan: plan.plan });
    expect(blockerCodes(drill)).not.toContain('SCRIPT_NOT_IN_CATALOG');
    const failover = await client.preflight({ type: 'planned', plan: plan.plan });
    expect(blockerCodes(failover)).toContain('SCRIPT_NOT_IN_CATALOG');
  });
});
