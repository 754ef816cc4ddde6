import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import { jobData, mutations, runJob, SOURCE, TARGET, twoSiteWorld } from './support.ts';

// Issue 10: an operation that fails half-way leaves every VM running somewhere. A cancel reverts
// the replica (turns it off) and then restarts the primary at the source: a source lost after the
// cancel's pre-flight would leave the VM off in both sites.
describe('the revert of a cancel when the source site is lost since its pre-flight', () => {
  let world: World;
  afterEach(() => world?.close());

  async function failedOver(): Promise<void> {
    world = twoSiteWorld(['sql-01']);
    await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
    const run = await runJob(
      world.api,
      jobData('planned', TARGET, ['sql-01/failover', 'sql-01/boot'], { vm: 'sql-01' }),
    );
    expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done']);
  }

  it('keeps the replica running, changes nothing, and fails retryable naming the source', async () => {
    await failedOver();
    world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
    const before = mutations(world, 'sql-01', TARGET);
    const revert = await runJob(
      world.api,
      jobData('cancel', TARGET, ['sql-01/revert'], { vm: 'sql-01', epoch: 2 }),
    );
    const step = revert.result.steps[0];
    expect(step?.outcome).toBe('failed');
    expect(step?.error).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
    expect(step?.error?.message).toMatch(/keeps running at dc-west/);
    expect(mutations(world, 'sql-01', TARGET)).toEqual(before);
    expect(['Starting', 'Running']).toContain((await world.api.getVM(TARGET, 'sql-01')).state);
    expect(world.truth().vms['sql-01']?.primarySites).toEqual([TARGET]);
  });

  it('reverts as before once the source answers again', async () => {
    await failedOver();
    const revert = await runJob(
      world.api,
      jobData('cancel', TARGET, ['sql-01/revert'], { vm: 'sql-01', epoch: 2 }),
    );
    expect(revert.result.steps[0]?.outcome).toBe('done');
    expect((await world.api.getVM(TARGET, 'sql-01')).state).toBe('Off');
  });
});
