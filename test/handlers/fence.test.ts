import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../simulators/create-world.ts';
import { jobData, MemorySink, mutations, runJob, SOURCE, TARGET, twoSiteWorld } from './support.ts';

const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};

function fenceJob(vm: string, epoch = 4) {
  return jobData('unplanned', SOURCE, [`${vm}/fence`], { vm, epoch });
}

describe('fence (unplanned failover, source site)', () => {
  let world: World;
  afterEach(() => world?.close());

  it('turns the running primary off and bars it under the epoch; a repeat makes no call', async () => {
    world = twoSiteWorld(['app-01']);
    const sink = new MemorySink();
    const run = await runJob(world.api, fenceJob('app-01'), { sink });
    expect(run.result.steps[0]).toMatchObject({
      outcome: 'done',
      output: { fenced: true, site: SOURCE, epoch: 4, wasRunning: true },
    });
    expect(run.result.alreadyDone).toBeUndefined();
    expect(await world.api.getVM(SOURCE, 'app-01')).toMatchObject({
      state: 'Off',
      startBarred: true,
      epoch: 4,
    });
    expect(mutations(world, 'app-01', SOURCE)).toEqual({ fenceVM: 1 });
    expect(sink.events.flatMap((e) => (e.type === 'vm-phase' ? [[e.phase, e.detail]] : []))).toEqual([
      ['shutting-down', undefined],
      ['waiting', `source fenced at ${SOURCE} (epoch 4, was running: turned off)`],
    ]);
    // Barred means barred: neither an older execution nor the host's automatic start runs it.
    await expect(world.api.startVM({ site: SOURCE, vm: 'app-01', epoch: 4 })).rejects.toMatchObject({
      code: 'START_BARRED',
    });
    world.fault({ kind: 'host-crash', site: SOURCE, host: 'east-h1' });
    world.fault({ kind: 'host-up', site: SOURCE, host: 'east-h1' });
    expect((await world.api.getVM(SOURCE, 'app-01')).state).toBe('Off');

    const repeat = await runJob(world.api, fenceJob('app-01'));
    expect(repeat.result.steps[0]).toMatchObject({
      outcome: 'done',
      output: { fenced: true, already: true },
    });
    expect(repeat.result.alreadyDone).toBe(true);
    expect(mutations(world, 'app-01', SOURCE)).toEqual({ fenceVM: 1, startVM: 1 });
  });

  describe('when it runs late, after its site returned before its agent (issue 10)', () => {
    /** Failed over at the target; the source lost and back after an hour: StartIfRunning started it. */
    async function returnedBeforeItsAgent(): Promise<number> {
      world = twoSiteWorld(['app-01'], { manual: true, bootMs: 1000 });
      world.advance(600_000);
      world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
      await world.api.startVMFailover({ site: TARGET, vm: 'app-01', epoch: 4, mode: 'failover' });
      await world.api.startVM({ site: TARGET, vm: 'app-01', epoch: 4 });
      world.advance(3_600_000);
      world.fault({ kind: 'site-power', site: SOURCE, state: 'on' });
      const returned = Date.parse(await world.api.now());
      world.advance(600_000);
      return returned;
    }

    it('records the divergence: from the automatic start (Uptime) to the fence, and what reprotect would discard', async () => {
      const returned = await returnedBeforeItsAgent();
      const pendingBefore = (await world.api.measureVMReplication(SOURCE, 'app-01')).pendingBytes;
      const sink = new MemorySink();
      const run = await runJob(world.api, fenceJob('app-01'), { sink, late: { failedOver: true } });
      const now = await world.api.now();
      expect(run.result.steps[0]).toMatchObject({
        outcome: 'done',
        output: { fenced: true, wasRunning: true },
      });
      expect(await world.api.getVM(SOURCE, 'app-01')).toMatchObject({ state: 'Off', startBarred: true });
      const diverged = sink.events.filter((e) => e.type === 'diverged');
      expect(diverged).toEqual([
        expect.objectContaining({
          vm: 'app-01',
          site: SOURCE,
          runsAt: TARGET,
          ranFrom: new Date(returned).toISOString(),
          ranUntil: now,
          ranMs: 600_000,
          fenced: true,
          detectedBy: 'late-fence',
          discard: { since: expect.any(String), bytes: pendingBefore },
        }),
      ]);
      // The ledger agrees: one split-brain, from the automatic start to the fence.
      const [split] = world.truth().splitBrain;
      expect(split).toMatchObject({ vm: 'app-01', from: new Date(returned).toISOString(), to: now });
      expect(pendingBefore).toBeGreaterThanOrEqual((split?.writesBySite[SOURCE] ?? 0) * 4096);
      // A late job writes no VM phase (the VM is up at the target).
      expect(sink.events.some((e) => e.type === 'vm-phase')).toBe(false);
    });

    it('records none when the VM never failed over (its failover step is not done)', async () => {
      await returnedBeforeItsAgent();
      const sink = new MemorySink();
      await runJob(world.api, fenceJob('app-01'), { sink, late: { failedOver: false } });
      expect(sink.events.some((e) => e.type === 'diverged')).toBe(false);
      expect((await world.api.getVM(SOURCE, 'app-01')).state).toBe('Off');
    });
  });

  it('bars a primary that is already off (it could be started again)', async () => {
    world = twoSiteWorld(['app-01']);
    await world.api.stopVM({ site: SOURCE, vm: 'app-01', epoch: 1 });
    const run = await runJob(world.api, fenceJob('app-01'));
    expect(run.result.steps[0]?.output).toMatchObject({ fenced: true, wasRunning: false });
    expect((await world.api.getVM(SOURCE, 'app-01')).startBarred).toBe(true);
  });

  it('then the failover at the target: the VM runs in exactly one site, no split-brain', async () => {
    world = twoSiteWorld(['app-01']);
    await runJob(world.api, fenceJob('app-01'));
    const run = await runJob(
      world.api,
      jobData('unplanned', TARGET, ['app-01/failover', 'app-01/boot', 'app-01/readiness'], {
        vm: 'app-01',
        epoch: 4,
        recoveryPoint: { kind: 'latest' },
        readiness,
      }),
    );
    expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    const truth = world.truth();
    expect(truth.vms['app-01']?.primarySites).toEqual([TARGET]);
    expect(truth.splitBrain).toEqual([]);
  });

  describe('when the source cannot be reached', () => {
    it.each([
      ['the site is down', 'site-power', 'SITE_UNREACHABLE', 'site unreachable'],
      ['its host is down', 'host-crash', 'HOST_DOWN', 'host down'],
    ] as const)('ends warned when %s, says why, and makes no call', async (_what, fault, code, short) => {
      world = twoSiteWorld(['app-01']);
      world.fault(
        fault === 'site-power'
          ? { kind: 'site-power', site: SOURCE, state: 'off' }
          : { kind: 'host-crash', site: SOURCE, host: 'east-h1' },
      );
      const sink = new MemorySink();
      const run = await runJob(world.api, fenceJob('app-01'), { sink });
      expect(run.unrecoverable).toBeUndefined();
      expect(run.result.alreadyDone).toBeUndefined();
      const step = run.result.steps[0];
      expect(step).toMatchObject({
        outcome: 'warned',
        output: { fenced: false, site: SOURCE, reason: code },
        error: { code: 'NOT_FENCED', retryable: false },
      });
      expect(step?.error?.message).toMatch(/^app-01 was NOT fenced: /);
      expect(step?.error?.message).toContain(code);
      const finished = sink.events.find((e) => e.type === 'step-finished');
      expect(finished).toMatchObject({ outcome: 'warned', error: { code: 'NOT_FENCED' } });
      expect(sink.events.find((e) => e.type === 'vm-phase' && e.phase === 'waiting')).toMatchObject({
        detail: `source NOT fenced: ${short} at ${SOURCE}`,
      });
      expect(mutations(world, 'app-01', SOURCE)).toEqual({});
    });
  });

  it('leaves a VM that is now a replica at the source alone (replication reversed)', async () => {
    world = twoSiteWorld(['app-01']);
    await runJob(world.api, fenceJob('app-01'));
    await runJob(
      world.api,
      jobData('unplanned', TARGET, ['app-01/failover'], {
        vm: 'app-01',
        epoch: 4,
        recoveryPoint: { kind: 'latest' },
      }),
    );
    await world.api.reverseVMReplication({ site: TARGET, vm: 'app-01', epoch: 4 });
    expect((await world.api.getVM(SOURCE, 'app-01')).replication?.mode).toBe('Replica');
    const run = await runJob(world.api, fenceJob('app-01'));
    expect(run.result.steps[0]).toMatchObject({
      outcome: 'done',
      output: { fenced: false, reason: 'not-a-primary' },
    });
    expect(mutations(world, 'app-01', SOURCE)).toEqual({ fenceVM: 1 });
  });

  it('fails STALE_EPOCH without a call when a newer execution owns the VM', async () => {
    world = twoSiteWorld(['app-01']);
    await world.api.connectVMNetwork({ site: SOURCE, vm: 'app-01', epoch: 9, network: 'prod-east' });
    const run = await runJob(world.api, fenceJob('app-01', 4));
    expect(run.result.steps[0]).toMatchObject({ outcome: 'failed', error: { code: 'STALE_EPOCH' } });
    expect(run.unrecoverable?.code).toBe('STALE_EPOCH');
    expect(mutations(world, 'app-01', SOURCE)).toEqual({ connectVMNetwork: 1 });
    expect((await world.api.getVM(SOURCE, 'app-01')).state).toBe('Running');
  });

  it('warns when the source holds no such VM (plan and inventory disagree)', async () => {
    world = twoSiteWorld(['app-01']);
    const run = await runJob(world.api, jobData('unplanned', SOURCE, ['ghost/fence'], { vm: 'ghost' }));
    expect(run.result.steps[0]).toMatchObject({
      outcome: 'warned',
      output: { fenced: false, reason: 'VM_NOT_FOUND' },
      error: { code: 'NOT_FENCED' },
    });
  });
});
