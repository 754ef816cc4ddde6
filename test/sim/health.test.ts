import { describe, expect, it } from 'vitest';
import { HOUR, MIN, twoSites } from './world-fixture.ts';

describe('replication health', () => {
  it('turns Warning when more than 20 % of cycles were missed on a throttled link', async () => {
    const world = twoSites();
    world.advance(10 * MIN);
    // 10 writes/s × 4 KiB over 30 s is 1,228,800 bytes per cycle; 30,000 B/s carries 900,000.
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 30_000 });
    world.advance(2 * MIN + 30_000); // 5 cycles, all short
    let m = await world.api.measureVMReplication('east', 'vm-a');
    expect(m).toMatchObject({ totalCycles: 25, missedCycles: 5, health: 'Normal' }); // 20 %: not more than 20 %
    world.advance(30_000);
    m = await world.api.measureVMReplication('east', 'vm-a');
    expect(m).toMatchObject({ totalCycles: 26, missedCycles: 6, health: 'Warning' });
    // The backlog grows by exactly what the link could not carry: 300 − 219 writes per cycle.
    const seqs = await world.api.replicationSeqs('east', 'vm-a');
    expect(seqs.primarySeq - seqs.receivedSeq).toBe(6 * (300 - Math.floor(900_000 / 4096)));
    expect(m.pendingBytes).toBe((seqs.primarySeq - seqs.receivedSeq) * 4096);
  });

  it('turns Warning when nothing replicated for over an hour, then Critical when replication stops', async () => {
    const world = twoSites({}, { replicationErrorAfterMs: 3 * HOUR });
    world.advance(100 * HOUR); // long healthy history: the missed share stays under 20 %
    world.fault({ kind: 'link', from: 'east', to: 'west', state: 'down' });
    world.advance(HOUR);
    expect((await world.api.getVM('east', 'vm-a')).replication?.health).toBe('Normal');
    world.advance(30_000);
    expect((await world.api.getVM('east', 'vm-a')).replication).toMatchObject({
      health: 'Warning',
      state: 'Replicating',
    });
    world.advance(2 * HOUR);
    expect((await world.api.getVM('east', 'vm-a')).replication).toMatchObject({
      health: 'Critical',
      state: 'Error',
    });
    world.fault({ kind: 'link', from: 'east', to: 'west', state: 'up' });
    world.advance(30_000);
    expect((await world.api.getVM('east', 'vm-a')).replication).toMatchObject({ state: 'Replicating' });
  });

  it('requires a resync once the change log passes half the disk during a link outage', async () => {
    const disk = 100 * 1024 * 1024; // half is 12,800 writes of 4 KiB
    const world = twoSites({ diskBytes: disk });
    world.advance(10 * MIN); // everything up to 600 s shipped: 6,000 writes
    world.fault({ kind: 'link', from: 'east', to: 'west', state: 'down' });
    // The log passes 50 % when 10 t − 6,000 > 12,800, i.e. after t = 1,880 s; the next cycle is at 1,890 s.
    world.advance(1_860_000 - 10 * MIN);
    expect((await world.api.getVM('east', 'vm-a')).replication).toMatchObject({
      resyncRequired: false,
      health: 'Warning',
    });
    world.advance(30_000);
    const vm = await world.api.getVM('east', 'vm-a');
    expect(vm.replication).toMatchObject({
      resyncRequired: true,
      state: 'WaitingForStartResynchronize',
      health: 'Critical',
    });

    world.fault({ kind: 'link', from: 'east', to: 'west', state: 'up' });
    world.advance(5 * MIN);
    expect((await world.api.getVM('east', 'vm-a')).replication?.state).toBe('WaitingForStartResynchronize');
    const resynced = await world.api.resyncVMReplication({ site: 'east', vm: 'vm-a', epoch: 1 });
    expect(resynced.replication?.state).toBe('Resynchronizing');
    world.advance(60_000);
    const m = await world.api.replicationSeqs('west', 'vm-a');
    expect((await world.api.getVM('east', 'vm-a')).replication?.state).toBe('Replicating');
    expect(m.primarySeq - m.receivedSeq).toBeLessThanOrEqual(300);
  });
});

describe('paused replication', () => {
  it('is Warning while suspended, counts no cycles, and ships the backlog on resume', async () => {
    const world = twoSites();
    world.advance(10 * MIN);
    const paused = await world.api.suspendVMReplication({ site: 'east', vm: 'vm-a', epoch: 1 });
    expect(paused.replication).toMatchObject({ state: 'Suspended', health: 'Warning' });
    world.advance(10 * MIN);
    let m = await world.api.measureVMReplication('east', 'vm-a');
    expect(m).toMatchObject({ totalCycles: 20, missedCycles: 0 });
    expect(await world.api.replicationSeqs('east', 'vm-a')).toMatchObject({
      receivedSeq: 6_000,
      primarySeq: 12_000,
    });
    await expect(
      world.api.suspendVMReplication({ site: 'east', vm: 'vm-a', epoch: 1 }),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await world.api.resumeVMReplication({ site: 'east', vm: 'vm-a', epoch: 1 });
    world.advance(30_000);
    m = await world.api.measureVMReplication('east', 'vm-a');
    expect(m).toMatchObject({ totalCycles: 21, health: 'Normal' });
    expect((await world.api.replicationSeqs('east', 'vm-a')).receivedSeq).toBe(12_300);
  });
});
