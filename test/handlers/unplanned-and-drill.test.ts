import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import { judgeClaim } from '../support/judge.ts';
import {
  fenceSource,
  jobData,
  MemorySink,
  mutations,
  runJob,
  SOURCE,
  TARGET,
  twoSiteWorld,
  whileAdvancing,
} from './support.ts';

const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};
const STEPS = ['app-01/failover', 'app-01/boot', 'app-01/readiness'];

describe('unplanned failover', () => {
  let world: World;
  afterEach(() => world?.close());

  describe('when the source site is gone', () => {
    it('fails over from the chosen point and claims the data-loss window, which the ledger judges', async () => {
      // A manual clock: no replication cycle can run between the writes and the power cut, however
      // loaded the machine (on a scaled clock one sometimes did, and nothing was lost).
      world = twoSiteWorld(['app-01'], { manual: true });
      world.advance(20_000); // writes after the last cycle: they will be lost
      const unsent = await world.api.replicationSeqs(SOURCE, 'app-01');
      world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
      const run = await whileAdvancing(
        world,
        runJob(
          world.api,
          jobData('unplanned', TARGET, STEPS, { vm: 'app-01', recoveryPoint: { kind: 'latest' }, readiness }),
        ),
      );

      expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      const truth = world.truth().failovers.find((f) => f.vm === 'app-01');
      expect(truth?.kind).toBe('unplanned');
      // Exactly the writes the primary acknowledged and never sent (time stood still since).
      expect(unsent.primarySeq - unsent.receivedSeq).toBeGreaterThan(0);
      expect(truth?.lostWrites).toBe(unsent.primarySeq - unsent.receivedSeq);
      // The engine's claim: the site did not answer, so the end is a lower bound (the last
      // replication); every write the ledger lost is after the window's start, none before.
      const claim = run.result.dataLoss;
      expect(claim).toMatchObject({
        vm: 'app-01',
        bound: 'atLeast',
        recoveryPointTime: truth?.recoveryPoint.time,
      });
      expect(run.result.steps[0]?.output).not.toHaveProperty('lostWrites');
      if (claim === undefined || truth === undefined) throw new Error('no claim');
      expect(judgeClaim(claim, truth, { intervalMs: 30_000, writeGapMs: 100 })).toEqual([]);
      expect(run.result.recoveryPoint).toEqual({
        id: truth?.recoveryPoint.id,
        time: truth?.recoveryPoint.time,
      });
      expect(mutations(world, 'app-01', SOURCE)).toEqual({});
      expect(mutations(world, 'app-01', TARGET)).toEqual({ 'startVMFailover.failover': 1, startVM: 1 });
    });
  });

  it('uses a point in time chosen at run time', async () => {
    world = twoSiteWorld(['app-01']);
    world.advance(3 * 3_600_000); // hourly recovery points
    const points = await world.api.getRecoveryPoints(TARGET, 'app-01');
    const older = points.at(-1);
    expect(older?.kind).toBe('standard');
    await fenceSource(world.api, 'app-01');
    const run = await runJob(
      world.api,
      jobData('unplanned', TARGET, ['app-01/failover'], {
        vm: 'app-01',
        recoveryPoint: { kind: 'at', at: older?.time ?? '' },
      }),
    );
    expect(run.result.steps[0]?.outcome).toBe('done');
    expect(run.result.recoveryPoint).toEqual({ id: older?.id, time: older?.time });
    expect(world.truth().failovers[0]?.recoveryPoint.id).toBe(older?.id);
  });
});

describe('test failover (drill)', () => {
  let world: World;
  afterEach(() => world?.close());

  it('creates the test VM on the isolated network and never touches production', async () => {
    world = twoSiteWorld(['web-01']);
    const sink = new MemorySink();
    const run = await runJob(
      world.api,
      jobData('test', TARGET, ['web-01/failover', 'web-01/boot', 'web-01/readiness'], {
        vm: 'web-01',
        network: { network: 'drill-net', ip: '192.168.99.5' },
        readiness,
      }),
      { sink },
    );
    expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    const test = await world.api.getVM(TARGET, 'web-01 - Test');
    expect(test).toMatchObject({
      isTest: true,
      state: 'Running',
      network: { network: 'drill-net', ip: '192.168.99.5' },
    });
    const replica = await world.api.getVM(TARGET, 'web-01');
    expect(replica.replication?.state).toBe('Replicating');
    expect((await world.api.getVM(SOURCE, 'web-01')).state).toBe('Running');
    const truth = world.truth();
    expect(truth.mutations['web-01']?.[SOURCE]).toBeUndefined();
    expect(truth.failovers.find((f) => f.vm === 'web-01')?.testNetwork).toEqual({
      network: 'drill-net',
      isolated: true,
    });
    expect(mutations(world, 'web-01', TARGET)).toEqual({ 'startVMFailover.test': 1 });
    expect(mutations(world, 'web-01 - Test', TARGET)).toEqual({ startVM: 1 });
    // Events name the plan's VM, not the test VM.
    expect(
      sink.events
        .filter((e) => e.type === 'vm-phase')
        .every((e) => e.type === 'vm-phase' && e.vm === 'web-01'),
    ).toBe(true);

    const repeat = await runJob(
      world.api,
      jobData('test', TARGET, ['web-01/failover', 'web-01/boot'], {
        vm: 'web-01',
        network: { network: 'drill-net' },
      }),
    );
    expect(repeat.result.alreadyDone).toBe(true);
    expect(mutations(world, 'web-01', TARGET)).toEqual({ 'startVMFailover.test': 1 });
  });

  describe('when the test network is not isolated', () => {
    it('refuses before any call', async () => {
      world = twoSiteWorld(['web-01']);
      const run = await runJob(
        world.api,
        jobData('test', TARGET, ['web-01/failover', 'web-01/boot'], {
          vm: 'web-01',
          network: { network: 'prod-west' },
        }),
      );
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['failed', 'skipped']);
      expect(run.result.steps[0]?.error?.code).toBe('TEST_NETWORK_NOT_ISOLATED');
      expect(world.truth().mutations['web-01']).toBeUndefined();
    });
  });

  it('cleanup removes the test VM once, and a repeat does nothing', async () => {
    world = twoSiteWorld(['web-01']);
    await runJob(
      world.api,
      jobData('test', TARGET, ['web-01/failover', 'web-01/boot'], {
        vm: 'web-01',
        network: { network: 'drill-net' },
      }),
    );
    const sink = new MemorySink();
    const cleanup = jobData('cleanup', TARGET, ['web-01/cleanup'], { vm: 'web-01' });
    const run = await runJob(world.api, cleanup, { sink });
    expect(run.result.steps[0]?.outcome).toBe('done');
    const names = (await world.api.listVMs(TARGET)).map((v) => v.name);
    expect(names).not.toContain('web-01 - Test');
    expect(names).toContain('web-01');
    expect(sink.events.flatMap((e) => (e.type === 'vm-phase' ? [e.phase] : []))).toEqual([
      'cleaning-up',
      'cleaned-up',
    ]);

    const again = await runJob(world.api, cleanup);
    expect(again.result.alreadyDone).toBe(true);
    expect(mutations(world, 'web-01', TARGET)).toEqual({
      'startVMFailover.test': 1,
      'stopVMFailover.test': 1,
    });
    expect(world.truth().mutations['web-01']?.[SOURCE]).toBeUndefined();
  });
});
