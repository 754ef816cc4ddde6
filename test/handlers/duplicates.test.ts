import { afterEach, describe, expect, it } from 'vitest';
import type { StepJobData } from '../../engine/contract/index.ts';
import type { World } from '../../simulators/index.ts';
import { fenceSource, jobData, runJob, SOURCE, TARGET, twoSiteWorld } from './support.ts';

/** Calls the host accepted for a VM at a site: every call counted minus every refusal. */
function accepted(world: World, vm: string, site: string): number {
  const truth = world.truth();
  const calls = Object.values(truth.mutations[vm]?.[site] ?? {}).reduce((a, b) => a + b, 0);
  const refused = Object.values(truth.refused[vm]?.[site] ?? {}).reduce((a, b) => a + (b ?? 0), 0);
  return calls - refused;
}

/** The same job run twice at the same time, as when a lock lapses under load and two workers hold it. */
async function twice(world: World, data: StepJobData): Promise<string[][]> {
  const runs = await Promise.all([runJob(world.api, data), runJob(world.api, data)]);
  return runs.map((r) => r.result.steps.map((s) => s.outcome));
}

const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};

describe('when two workers run the same job at once', () => {
  let world: World;
  afterEach(() => world?.close());

  it('shuts down and prepares the primary once, and both runs end done', async () => {
    world = twoSiteWorld(['sql-01']);
    const outcomes = await twice(world, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
    expect(outcomes).toEqual([['done'], ['done']]);
    expect(accepted(world, 'sql-01', SOURCE)).toBe(2); // Stop-VM, -Prepare
    expect((await world.api.getVM(SOURCE, 'sql-01')).replication?.state).toBe('PreparedForFailover');
  });

  it('fails over and boots once', async () => {
    world = twoSiteWorld(['app-01']);
    const steps = ['app-01/failover', 'app-01/boot', 'app-01/readiness'];
    await fenceSource(world.api, 'app-01');
    const outcomes = await twice(world, jobData('unplanned', TARGET, steps, { vm: 'app-01', readiness }));
    expect(outcomes).toEqual([
      ['done', 'done', 'done'],
      ['done', 'done', 'done'],
    ]);
    expect(accepted(world, 'app-01', TARGET)).toBe(2); // Start-VMFailover, Start-VM
    // Both runs did call: the second was refused and absorbed.
    expect(world.truth().refused['app-01']?.[TARGET]?.INVALID_STATE).toBe(2);
    expect(world.truth().failovers.filter((f) => f.vm === 'app-01')).toHaveLength(1);
    expect(world.truth().splitBrain).toEqual([]);
  });

  it('creates one test VM and removes it once', async () => {
    world = twoSiteWorld(['web-01']);
    const test = jobData('test', TARGET, ['web-01/failover', 'web-01/boot'], {
      vm: 'web-01',
      network: { network: 'drill-net' },
    });
    expect(await twice(world, test)).toEqual([
      ['done', 'done'],
      ['done', 'done'],
    ]);
    expect(accepted(world, 'web-01', TARGET)).toBe(1);
    expect(accepted(world, 'web-01 - Test', TARGET)).toBe(1);

    expect(await twice(world, jobData('cleanup', TARGET, ['web-01/cleanup'], { vm: 'web-01' }))).toEqual([
      ['done'],
      ['done'],
    ]);
    expect(accepted(world, 'web-01', TARGET)).toBe(2);
    expect((await world.api.listVMs(TARGET)).map((v) => v.name)).not.toContain('web-01 - Test');
    expect(world.truth().mutations['web-01']?.[SOURCE]).toBeUndefined();
  });
});
