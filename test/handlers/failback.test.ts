import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import { jobData, mutations, runJob, SOURCE, TARGET, twoSiteWorld } from './support.ts';

const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};

describe('planned failback', () => {
  let world: World;
  afterEach(() => world?.close());

  it('brings the VM home on the network it had there, not the target-site mapping', async () => {
    world = twoSiteWorld(['sql-01']);
    const mapped = { network: 'prod-west', ip: '10.1.0.5' };
    // Away: planned failover with the plan's mapping, committed and reversed.
    await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
    const away = await runJob(
      world.api,
      jobData('planned', TARGET, ['sql-01/failover', 'sql-01/boot', 'sql-01/readiness'], {
        vm: 'sql-01',
        network: mapped,
        readiness,
      }),
    );
    expect(away.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    expect((await world.api.getVM(TARGET, 'sql-01')).network).toEqual(mapped);
    await world.api.completeVMFailover({ site: TARGET, vm: 'sql-01', epoch: 1 });
    await world.api.reverseVMReplication({ site: TARGET, vm: 'sql-01', epoch: 1 });
    world.advance(120_000);

    // Home: the failback's jobs carry the same mapping (it names dc-west's networks).
    const back = { direction: 'failback' as const, fromSite: TARGET, toSite: SOURCE, epoch: 2 };
    const shutdown = await runJob(
      world.api,
      jobData('planned', TARGET, ['sql-01/shutdown'], { vm: 'sql-01', ...back }),
    );
    expect(shutdown.result.steps.map((s) => s.outcome)).toEqual(['done']);
    const home = await runJob(
      world.api,
      jobData('planned', SOURCE, ['sql-01/failover', 'sql-01/boot', 'sql-01/readiness'], {
        vm: 'sql-01',
        network: mapped,
        readiness,
        ...back,
      }),
    );
    expect(home.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    const view = await world.api.getVM(SOURCE, 'sql-01');
    expect(view.state).toBe('Running');
    expect(view.network).toEqual({ network: 'prod-east' });
    expect(mutations(world, 'sql-01', SOURCE).connectVMNetwork).toBeUndefined();
    expect(world.truth().splitBrain).toEqual([]);
  });
});
