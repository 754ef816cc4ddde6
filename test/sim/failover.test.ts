import { describe, expect, it } from 'vitest';
import { SimError } from '../../simulators/index.ts';
import { HOUR, twoSites, writesBy } from './world-fixture.ts';

const RATE = 10;

describe('unplanned failover under a continuous workload', () => {
  it('loses exactly the writes acknowledged after the chosen hourly point', async () => {
    const world = twoSites();
    const failoverAt = 2 * HOUR + 47_300;
    world.advance(failoverAt);
    const points = await world.api.getRecoveryPoints('west', 'vm-a');
    expect(points.map((p) => p.kind)).toEqual(['latest', 'standard', 'standard']);
    const { recoveryPoint } = await world.api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'at', at: '2026-01-01T02:00:10.000Z' },
    });
    // The newest point at or before 02:00:10 is the one taken at the 02:00 boundary (latest is
    // 02:00:30); it holds every write up to 2 h; the primary acknowledged up to 2 h 0 min 47.3 s.
    expect(recoveryPoint?.time).toBe('2026-01-01T02:00:00.000Z');
    const [f] = world.truth().failovers;
    expect(f?.recoveryPoint.seq).toBe(writesBy(2 * HOUR, RATE));
    const expected = writesBy(failoverAt, RATE) - writesBy(2 * HOUR, RATE);
    expect(expected).toBe(473);
    expect(f).toMatchObject({ kind: 'unplanned', fromSite: 'east', toSite: 'west', lostWrites: expected });
    expect(f?.lostSeqRange).toEqual([72_001, 72_473]);
  });

  it('loses the writes after the last received cycle with `latest`, one cycle more with `latestProcessed`', async () => {
    for (const [kind, lastCycle] of [
      ['latest', 3600 + 60 * 30],
      ['latestProcessed', 3600 + 59 * 30],
    ] as const) {
      const world = twoSites();
      const failoverAt = (3600 + 60 * 30 + 12) * 1000; // 12 s after the 01:30:00 cycle
      world.advance(failoverAt);
      await world.api.startVMFailover({
        site: 'west',
        vm: 'vm-a',
        epoch: 1,
        mode: 'failover',
        recoveryPoint: { kind },
      });
      const [f] = world.truth().failovers;
      expect(f?.lostWrites, kind).toBe(writesBy(failoverAt, RATE) - writesBy(lastCycle * 1000, RATE));
      expect(f?.lostWrites).toBeGreaterThan(0);
    }
  });

  it('keeps a canary written before the point and loses one written after it', async () => {
    const world = twoSites();
    world.advance(HOUR - 10_000);
    const early = await world.api.writeCanary('east', 'vm-a', 'before-the-point');
    world.advance(20_000);
    const late = await world.api.writeCanary('east', 'vm-a', 'after-the-point');
    world.advance(5_000);
    await world.api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'at', at: '2026-01-01T01:00:00.000Z' },
    });
    expect(await world.api.readCanary('west', 'vm-a', early)).toBe('before-the-point');
    expect(await world.api.readCanary('west', 'vm-a', late)).toBeNull();
    // The canaries are acknowledged writes too: the hourly point holds the first one.
    const [f] = world.truth().failovers;
    expect(f?.recoveryPoint.seq).toBe(writesBy(HOUR, RATE) + 1);
    expect(f?.lostWrites).toBe(writesBy(HOUR + 15_000, RATE) + 2 - (writesBy(HOUR, RATE) + 1));
  });

  it('fails over from the newest application-consistent point', async () => {
    const world = twoSites();
    world.advance(9 * HOUR + 5 * 60_000);
    const { recoveryPoint } = await world.api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'latestAppConsistent' },
    });
    expect(recoveryPoint).toMatchObject({ kind: 'appConsistent', time: '2026-01-01T08:00:00.000Z' });
    expect(world.truth().failovers[0]?.recoveryPoint.seq).toBe(writesBy(8 * HOUR, RATE));
  });

  it('records split-brain writes when the old primary keeps running after the failover', async () => {
    const world = twoSites();
    world.advance(HOUR);
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    world.advance(30_000);
    const [f] = world.truth().failovers;
    expect(f?.writesAfterFailover).toBe(300);
  });
});

describe('planned failover', () => {
  it('loses nothing, bars the prepared primary from starting, and reverses without a resync', async () => {
    const world = twoSites();
    world.advance(HOUR + 7_000);
    await world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 1 });
    const prepared = await world.api.startVMFailover({ site: 'east', vm: 'vm-a', epoch: 1, mode: 'prepare' });
    expect(prepared.vm.replication?.state).toBe('PreparedForFailover');
    expect(prepared.vm.startBarred).toBe(true);
    await expect(world.api.startVM({ site: 'east', vm: 'vm-a', epoch: 1 })).rejects.toMatchObject({
      code: 'START_BARRED',
    });
    const { recoveryPoint } = await world.api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'failover',
    });
    expect(world.truth().failovers[0]?.recoveryPoint.seq).toBe(writesBy(HOUR + 7_000, 10));
    await world.api.completeVMFailover({ site: 'west', vm: 'vm-a', epoch: 1 });
    expect(await world.api.getRecoveryPoints('west', 'vm-a')).toEqual([]);
    const reversed = await world.api.reverseVMReplication({ site: 'west', vm: 'vm-a', epoch: 1 });
    expect(reversed.resyncBytes).toBe(0);
    expect(reversed.vm.replication).toMatchObject({
      mode: 'Primary',
      primarySite: 'west',
      replicaSite: 'east',
    });
    await world.api.startVM({ site: 'west', vm: 'vm-a', epoch: 1 });
    world.advance(10_000 + 60_000);
    const truth = world.truth();
    expect(truth.failovers).toHaveLength(1);
    expect(truth.failovers[0]).toMatchObject({ kind: 'planned', lostWrites: 0, lostSeqRange: null });
    expect(truth.vms['vm-a']?.timeline.map((t) => t.site)).toEqual(['east', 'west']);
    expect(truth.splitBrain).toEqual([]);
    const east = await world.api.getVM('east', 'vm-a');
    expect(east.replication).toMatchObject({ mode: 'Replica', state: 'Replicating' });
    // The old primary now receives the new primary's writes.
    const m = await world.api.replicationSeqs('east', 'vm-a');
    expect(recoveryPoint).not.toHaveProperty('seq');
    expect(m.receivedSeq).toBeGreaterThan(truth.failovers[0]?.recoveryPoint.seq ?? Infinity);
  });

  it('refuses to prepare a running primary', async () => {
    const world = twoSites();
    world.advance(60_000);
    await expect(
      world.api.startVMFailover({ site: 'east', vm: 'vm-a', epoch: 1, mode: 'prepare' }),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });
});

describe('as strict as Hyper-V', () => {
  it('fails a repeated failover on a VM already waiting for completion', async () => {
    const world = twoSites();
    world.advance(HOUR);
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    const again = world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    await expect(again).rejects.toBeInstanceOf(SimError);
    await expect(again).rejects.toMatchObject({ code: 'INVALID_STATE', retryable: false });
    await expect(again).rejects.toThrow(/waiting for completion/);
    const truth = world.truth();
    expect(truth.failovers).toHaveLength(1);
    expect(truth.mutations['vm-a']?.west?.['startVMFailover.failover']).toBe(2);
    expect(truth.refused['vm-a']?.west?.INVALID_STATE).toBe(1);
  });

  it('refuses Start-VM on a replica that has not failed over, and Complete-VMFailover without a failover', async () => {
    const world = twoSites();
    await expect(world.api.startVM({ site: 'west', vm: 'vm-a', epoch: 1 })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(world.api.completeVMFailover({ site: 'west', vm: 'vm-a', epoch: 1 })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(world.api.getVM('west', 'nope')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(world.api.getVM('north', 'vm-a')).rejects.toMatchObject({ code: 'SITE_NOT_FOUND' });
  });

  it('cancels a failover waiting for completion and resumes replication', async () => {
    const world = twoSites();
    world.advance(HOUR);
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    const cancelled = await world.api.stopVMFailover({ site: 'west', vm: 'vm-a', epoch: 1 });
    expect(cancelled.replication?.state).toBe('Replicating');
    const before = (await world.api.replicationSeqs('west', 'vm-a')).receivedSeq;
    world.advance(60_000);
    expect((await world.api.replicationSeqs('west', 'vm-a')).receivedSeq).toBe(before + 600);
    expect(world.truth().failovers[0]?.cancelledAt).toBe('2026-01-01T01:00:00.000Z');
  });
});

describe('failback', () => {
  it('brings the VM home with a second planned failover, losing nothing either way', async () => {
    const world = twoSites();
    const planned = async (from: string, to: string, epoch: number): Promise<void> => {
      await world.api.stopVM({ site: from, vm: 'vm-a', epoch });
      await world.api.startVMFailover({ site: from, vm: 'vm-a', epoch, mode: 'prepare' });
      await world.api.startVMFailover({ site: to, vm: 'vm-a', epoch, mode: 'failover' });
      await world.api.completeVMFailover({ site: to, vm: 'vm-a', epoch });
      const { resyncBytes } = await world.api.reverseVMReplication({ site: to, vm: 'vm-a', epoch });
      expect(resyncBytes).toBe(0);
      await world.api.startVM({ site: to, vm: 'vm-a', epoch });
    };
    world.advance(HOUR);
    await planned('east', 'west', 1);
    world.advance(2 * HOUR);
    // West has been primary for 2 h and replicated back to east every 30 s.
    expect((await world.api.getRecoveryPoints('east', 'vm-a')).length).toBeGreaterThanOrEqual(2);
    await planned('west', 'east', 2);
    world.advance(HOUR);
    const truth = world.truth();
    expect(truth.failovers.map((f) => [f.kind, f.fromSite, f.toSite, f.lostWrites])).toEqual([
      ['planned', 'east', 'west', 0],
      ['planned', 'west', 'east', 0],
    ]);
    expect(truth.vms['vm-a']?.timeline.map((t) => t.site)).toEqual(['east', 'west', 'east']);
    expect(truth.splitBrain).toEqual([]);
    expect(await world.api.getVM('east', 'vm-a')).toMatchObject({
      state: 'Running',
      replication: { mode: 'Primary', replicaSite: 'west', health: 'Normal' },
    });
    expect((await world.api.getVM('west', 'vm-a')).replication).toMatchObject({
      mode: 'Replica',
      state: 'Replicating',
    });
  });
});
