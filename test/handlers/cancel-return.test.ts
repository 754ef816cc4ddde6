import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import { jobData, mutations, runJob, SOURCE, TARGET, twoSiteWorld } from './support.ts';

// Issue 10: a cancel's restore that cannot reach the source (it died after the revert turned the
// replica off) leaves the VM off in both sites; the cancel's `<vm>/return` at the target brings
// it back up there, and a restore that arrives late must not start the primary beside it.
const VM = 'sql-01';
const CANCEL_EPOCH = 2;
const RETURN_EPOCH = 3;

describe('the return of a cancel whose restore could not reach the source', () => {
  let world: World;
  afterEach(() => world?.close());

  /** Failed over (planned), then reverted by the cancel: the replica is off, a replica again. */
  async function reverted(): Promise<{ id: string; time: string }> {
    world = twoSiteWorld([VM]);
    await runJob(world.api, jobData('planned', SOURCE, [`${VM}/shutdown`], { vm: VM }));
    await runJob(world.api, jobData('planned', TARGET, [`${VM}/failover`, `${VM}/boot`], { vm: VM }));
    const point = (await world.api.getVM(TARGET, VM)).recoveryPoint;
    if (point === undefined) throw new Error('no point');
    const revert = await runJob(
      world.api,
      jobData('cancel', TARGET, [`${VM}/revert`], { vm: VM, epoch: CANCEL_EPOCH }),
    );
    expect(revert.result.steps[0]?.outcome).toBe('done');
    expect(revert.result.recoveryPoint?.id).toBe(point.id);
    expect((await world.api.getVM(TARGET, VM)).replication?.state).toBe('Replicating');
    return { id: point.id, time: point.time };
  }

  const returnJob = (fromPoint: { id: string; time: string }) =>
    jobData('cancel', TARGET, [`${VM}/return`], { vm: VM, epoch: RETURN_EPOCH, fromPoint });

  describe('when the source does not answer', () => {
    it('fails the VM over again from the point it ran from and starts it; once only', async () => {
      const point = await reverted();
      world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
      expect(world.truth().vms[VM]?.primarySites).toEqual([]);
      const run = await runJob(world.api, returnJob(point));
      const step = run.result.steps[0];
      expect(step?.outcome).toBe('done');
      expect(step?.output).toMatchObject({ returned: true, sourceFenced: false });
      const view = await world.api.getVM(TARGET, VM);
      expect(view.replication?.state).toBe('FailedOverWaitingCompletion');
      expect(view.recoveryPoint?.id).toBe(point.id);
      expect(['Starting', 'Running']).toContain(view.state);
      expect(view.epoch).toBe(RETURN_EPOCH);
      expect(world.truth().vms[VM]?.primarySites).toEqual([TARGET]);
      const calls = mutations(world, VM, TARGET);
      // A repeated job (a worker died after it) reads the replica and calls nothing again.
      const again = await runJob(world.api, returnJob(point));
      expect(again.result.steps[0]?.outcome).toBe('done');
      expect(again.result.alreadyDone).toBe(true);
      expect(mutations(world, VM, TARGET)).toEqual(calls);
    });
  });

  describe('when the source answers again and the primary is off', () => {
    it('fences the primary under the return epoch first: the cancel’s restart of it is refused there', async () => {
      const point = await reverted();
      const run = await runJob(world.api, returnJob(point));
      expect(run.result.steps[0]?.output).toMatchObject({ returned: true, sourceFenced: true });
      expect(await world.api.getVM(SOURCE, VM)).toMatchObject({ state: 'Off', epoch: RETURN_EPOCH });
      // A start under the cancel's epoch (a stale restore) is refused by the source's host.
      await expect(world.api.startVM({ site: SOURCE, vm: VM, epoch: CANCEL_EPOCH })).rejects.toMatchObject({
        code: 'STALE_EPOCH',
      });
      expect(world.truth().vms[VM]?.primarySites).toEqual([TARGET]);
      expect(world.truth().splitBrain).toEqual([]);
    });
  });

  describe('when the primary runs at the source after all', () => {
    it('leaves the replica off and warns PRIMARY_BACK, calling nothing', async () => {
      const point = await reverted();
      await runJob(world.api, jobData('cancel', SOURCE, [`${VM}/restore`], { vm: VM, epoch: CANCEL_EPOCH }));
      expect(['Starting', 'Running']).toContain((await world.api.getVM(SOURCE, VM)).state);
      const before = mutations(world, VM, TARGET);
      const run = await runJob(world.api, returnJob(point));
      expect(run.result.steps[0]).toMatchObject({
        outcome: 'warned',
        error: { code: 'PRIMARY_BACK' },
        output: { returned: false },
      });
      expect(mutations(world, VM, TARGET)).toEqual(before);
      expect((await world.api.getVM(TARGET, VM)).state).toBe('Off');
      expect(world.truth().vms[VM]?.primarySites).toEqual([SOURCE]);
    });
  });
});

describe('a restore of the cancel that runs after the VM was brought back at the target', () => {
  let world: World;
  afterEach(() => world?.close());

  it('reads the replica first and does not start the primary beside it (RUNS_AT_TARGET)', async () => {
    world = twoSiteWorld([VM]);
    await runJob(world.api, jobData('planned', SOURCE, [`${VM}/shutdown`], { vm: VM }));
    await runJob(world.api, jobData('planned', TARGET, [`${VM}/failover`, `${VM}/boot`], { vm: VM }));
    await runJob(world.api, jobData('cancel', TARGET, [`${VM}/revert`], { vm: VM, epoch: CANCEL_EPOCH }));
    world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
    await runJob(world.api, jobData('cancel', TARGET, [`${VM}/return`], { vm: VM, epoch: RETURN_EPOCH }));
    world.fault({ kind: 'site-power', site: SOURCE, state: 'on' });
    const before = mutations(world, VM, SOURCE);
    const stale = await runJob(
      world.api,
      jobData('cancel', SOURCE, [`${VM}/restore`], { vm: VM, epoch: CANCEL_EPOCH }),
    );
    expect(stale.result.steps[0]).toMatchObject({ outcome: 'failed', error: { code: 'RUNS_AT_TARGET' } });
    expect(mutations(world, VM, SOURCE)).toEqual(before);
    expect((await world.api.getVM(SOURCE, VM)).state).toBe('Off');
    expect(world.truth().vms[VM]?.primarySites).toEqual([TARGET]);
    expect(world.truth().splitBrain).toEqual([]);
  });
});
