import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import {
  jobData,
  MemorySink,
  mutations,
  runJob,
  SOURCE,
  sightingsFor,
  TARGET,
  twoSiteWorld,
} from './support.ts';

const TARGET_STEPS = ['sql-01/failover', 'sql-01/boot', 'sql-01/readiness'];
const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};

describe('planned failover handlers', () => {
  let world: World;
  afterEach(() => world?.close());

  it('shuts the primary down and prepares it, once', async () => {
    world = twoSiteWorld(['sql-01']);
    const shutdown = jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' });
    const first = await runJob(world.api, shutdown);
    expect(first.result.steps.map((s) => s.outcome)).toEqual(['done']);
    expect(first.result.alreadyDone).toBeUndefined();
    const view = await world.api.getVM(SOURCE, 'sql-01');
    expect(view.state).toBe('Off');
    expect(view.startBarred).toBe(true);
    expect(mutations(world, 'sql-01', SOURCE)).toEqual({ stopVM: 1, 'startVMFailover.prepare': 1 });

    const repeat = await runJob(world.api, shutdown);
    expect(repeat.result.alreadyDone).toBe(true);
    expect(mutations(world, 'sql-01', SOURCE)).toEqual({ stopVM: 1, 'startVMFailover.prepare': 1 });
  });

  it('fails over with no data loss, attaches the mapped network, boots and waits for the heartbeat', async () => {
    world = twoSiteWorld(['sql-01']);
    await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
    const sink = new MemorySink();
    const data = jobData('planned', TARGET, TARGET_STEPS, {
      vm: 'sql-01',
      network: { network: 'prod-west', ip: '10.1.0.5' },
      readiness,
    });
    const run = await runJob(world.api, data, { sink });

    expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    const failover = world.truth().failovers.find((f) => f.vm === 'sql-01');
    expect(failover?.kind).toBe('planned');
    expect(failover?.lostWrites).toBe(0);
    expect(run.result.recoveryPoint?.id).toBe(failover?.recoveryPoint.id);
    // Zero loss proven without the ledger (failover.ts proveZeroLoss), and the ledger agrees.
    expect(run.result.dataLoss).toMatchObject({ vm: 'sql-01', bound: 'exact', windowMs: 0 });
    expect(run.result.dataLoss?.basis).toMatch(/shut down at dc-east .* nothing is pending/);
    const view = await world.api.getVM(TARGET, 'sql-01');
    expect(view.state).toBe('Running');
    expect(view.heartbeat).toBe('Ok');
    expect(view.network).toEqual({ network: 'prod-west', ip: '10.1.0.5' });
    expect(mutations(world, 'sql-01', TARGET)).toEqual({
      'startVMFailover.failover': 1,
      connectVMNetwork: 1,
      startVM: 1,
    });

    // One append per transition: start, failover→boot, boot→readiness, end.
    expect(sink.appends).toBe(4);
    const phases = sink.events.flatMap((e) => (e.type === 'vm-phase' ? [e.phase] : []));
    expect(phases).toEqual(['failing-over', 'booting', 'awaiting-readiness', 'ready']);
    for (const e of sink.events) expect(e.execution).toBe('ex1');
  });

  describe('when the primary was not prepared', () => {
    it('refuses to fail over, since writes would be lost', async () => {
      world = twoSiteWorld(['sql-01']);
      world.advance(10_000); // writes since the last replication cycle
      const run = await runJob(
        world.api,
        jobData('planned', TARGET, TARGET_STEPS, { vm: 'sql-01', readiness }),
      );
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['failed', 'skipped', 'skipped']);
      expect(run.result.steps[0]?.error?.code).toBe('PLANNED_FAILOVER_NOT_SYNCED');
      expect(run.result.steps[0]?.error?.message).toContain('is not shut down and prepared (power Running');
      expect(world.truth().mutations['sql-01']).toBeUndefined();
    });

    it('proves a primary prepared by other hands lossless from Hyper-V alone (prepared, nothing pending)', async () => {
      world = twoSiteWorld(['sql-01']);
      world.advance(10_000);
      // Stop-VM and -Prepare by hand: the engine never saw when the primary stopped.
      await world.api.stopVM({ site: SOURCE, vm: 'sql-01', epoch: 1 });
      await world.api.startVMFailover({ site: SOURCE, vm: 'sql-01', epoch: 1, mode: 'prepare' });
      world.advance(5_000);
      await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
      const run = await runJob(
        world.api,
        jobData('planned', TARGET, TARGET_STEPS, { vm: 'sql-01', readiness }),
      );
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      expect(run.result.dataLoss).toMatchObject({ bound: 'exact', windowMs: 0 });
      expect(run.result.dataLoss?.basis).toContain('the engine did not see it stop');
      expect(world.truth().failovers[0]).toMatchObject({ kind: 'planned', lostWrites: 0 });
    });
  });

  it('voids an old off-sighting of the VM where it boots it (a later failover must not take an old fence for its own)', async () => {
    world = twoSiteWorld(['sql-01']);
    // Long ago the engine fenced sql-01 at the target (it ran there once, before a failback).
    await sightingsFor(world.api).off(TARGET, 'sql-01', '2025-12-01T00:00:00.000Z', 'fence');
    await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
    await runJob(world.api, jobData('planned', TARGET, TARGET_STEPS, { vm: 'sql-01', readiness }));
    expect((await world.api.getVM(TARGET, 'sql-01')).state).toBe('Running');
    expect((await sightingsFor(world.api).read(TARGET, ['sql-01'])).get('sql-01')?.off).toBeUndefined();
    // The shutdown at the source is on record, for the proof.
    expect((await sightingsFor(world.api).read(SOURCE, ['sql-01'])).get('sql-01')?.off?.by).toBe('shutdown');
  });

  describe('when the same job runs again', () => {
    it('makes no mutating call and says so', async () => {
      world = twoSiteWorld(['sql-01']);
      await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01' }));
      const data = jobData('planned', TARGET, TARGET_STEPS, {
        vm: 'sql-01',
        network: { network: 'prod-west' },
        readiness,
      });
      await runJob(world.api, data);
      const before = mutations(world, 'sql-01', TARGET);
      const repeat = await runJob(world.api, data);
      expect(repeat.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      expect(repeat.result.alreadyDone).toBe(true);
      expect(mutations(world, 'sql-01', TARGET)).toEqual(before);
      expect(world.truth().failovers.filter((f) => f.vm === 'sql-01')).toHaveLength(1);
    });
  });

  describe('when the execution was superseded (stale epoch)', () => {
    it('fails the step as unrecoverable and skips the rest', async () => {
      world = twoSiteWorld(['sql-01']);
      await runJob(world.api, jobData('planned', SOURCE, ['sql-01/shutdown'], { vm: 'sql-01', epoch: 5 }));
      // A newer execution (epoch 7) already touched the replica.
      await world.api.connectVMNetwork({ site: TARGET, vm: 'sql-01', epoch: 7, network: 'prod-west' });
      const run = await runJob(
        world.api,
        jobData('planned', TARGET, TARGET_STEPS, { vm: 'sql-01', epoch: 5, readiness }),
      );
      expect(run.unrecoverable?.code).toBe('STALE_EPOCH');
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['failed', 'skipped', 'skipped']);
      expect(run.result.steps[0]?.error).toMatchObject({ code: 'STALE_EPOCH', retryable: false });
      expect(mutations(world, 'sql-01', TARGET)).toEqual({
        connectVMNetwork: 1,
        'startVMFailover.failover': 1,
      });
      expect(world.truth().refused['sql-01']?.[TARGET]).toEqual({ STALE_EPOCH: 1 });
    });
  });
});
