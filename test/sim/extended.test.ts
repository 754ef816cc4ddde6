import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../simulators/index.ts';
import { HOUR, MIN, twoSites, writesBy } from './world-fixture.ts';

function threeSites(): World {
  return createWorld({
    clock: { mode: 'manual' },
    sites: ['east', 'west', 'north'].map((name) => ({ name, hosts: [{ name: `h-${name}` }] })),
    vms: [
      {
        name: 'db',
        site: 'east',
        host: 'h-east',
        boot: 5_000,
        workload: { writesPerSec: 4 },
        replication: {
          site: 'west',
          host: 'h-west',
          frequencySec: 30,
          phaseMs: 0,
          recoveryPoints: 2,
          extended: { site: 'north', host: 'h-north', frequencySec: 300, phaseMs: 10_000, recoveryPoints: 2 },
        },
      },
    ],
  });
}

describe('extended replication', () => {
  it('ships what the replica has applied, every 5 min, and fails over from there', async () => {
    const world = threeSites();
    const t = 2 * HOUR + 7 * MIN;
    world.advance(t);
    // The extended cycle at 2:05:10 ships what west had applied by then: its 2:04:30 receipt
    // (applied at west's 2:05:00 cycle).
    const points = (await world.api.replicationSeqs('north', 'db')).points;
    expect(points[0]).toMatchObject({ id: 'north.db.latest', seq: writesBy(2 * HOUR + 4 * MIN + 30_000, 4) });
    await world.api.startVMFailover({ site: 'north', vm: 'db', epoch: 1, mode: 'failover' });
    const [f] = world.truth().failovers;
    expect(f).toMatchObject({ fromSite: 'east', toSite: 'north', kind: 'unplanned' });
    expect(f?.lostWrites).toBe(writesBy(t, 4) - writesBy(2 * HOUR + 4 * MIN + 30_000, 4));
  });
});

describe('unplanned failover after a primary host crash', () => {
  it('counts writes up to the crash as acknowledged, and sizes the reverse resync exactly', async () => {
    const world = twoSites();
    world.advance(HOUR + 10_000); // last cycle 01:00:00
    world.fault({ kind: 'host-crash', site: 'east', host: 'he1' });
    world.advance(5 * MIN);
    expect((await world.api.measureVMReplication('west', 'vm-a')).missedCycles).toBe(10);
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 2, mode: 'failover' });
    const [f] = world.truth().failovers;
    expect(f?.lostWrites).toBe(100); // the 10 s between the 01:00:00 cycle and the crash
    await world.api.startVM({ site: 'west', vm: 'vm-a', epoch: 2 });
    world.advance(70_000); // 10 s boot, then 60 s of writes
    await world.api.completeVMFailover({ site: 'west', vm: 'vm-a', epoch: 2 });
    await expect(
      world.api.reverseVMReplication({ site: 'west', vm: 'vm-a', epoch: 2 }),
    ).rejects.toMatchObject({ code: 'HOST_DOWN' });
    world.fault({ kind: 'host-up', site: 'east', host: 'he1' });
    // The old primary was running at the crash and starts again by itself: split-brain, caught.
    world.advance(10_000);
    expect(world.truth().splitBrain).toHaveLength(1);
    await world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 2 });
    const { resyncBytes } = await world.api.reverseVMReplication({ site: 'west', vm: 'vm-a', epoch: 2 });
    // Divergence since the fork: east's 100 lost writes (its automatic restart was still booting
    // when it was stopped), and west's writes from 3,920.025 s (10 s boot + 25 ms applying the
    // `latest` logs) to 3,990 s: 699.
    expect(resyncBytes).toBe((100 + 699) * 4096);
    expect((await world.api.getVM('east', 'vm-a')).replication).toMatchObject({
      mode: 'Replica',
      state: 'Resynchronizing',
    });
  });

  it('keeps the old primary off when it was fenced before its host returned', async () => {
    const world = twoSites();
    world.advance(HOUR);
    world.fault({ kind: 'site-power', site: 'east', state: 'off' });
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 2, mode: 'failover' });
    await world.api.startVM({ site: 'west', vm: 'vm-a', epoch: 2 });
    world.advance(MIN);
    world.fault({ kind: 'site-power', site: 'east', state: 'on' });
    world.advance(MIN);
    // Without a fence the automatic start action brings it back: the ledger says so.
    expect(world.truth().splitBrain).toHaveLength(1);

    const fenced = twoSites();
    fenced.advance(HOUR);
    await fenced.api.fenceVM({ site: 'east', vm: 'vm-a', epoch: 2 });
    fenced.fault({ kind: 'site-power', site: 'east', state: 'off' });
    await fenced.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 2, mode: 'failover' });
    await fenced.api.startVM({ site: 'west', vm: 'vm-a', epoch: 2 });
    fenced.fault({ kind: 'site-power', site: 'east', state: 'on' });
    fenced.advance(MIN);
    expect(fenced.truth().splitBrain).toEqual([]);
    expect(fenced.truth().vms['vm-a']?.primarySites).toEqual(['west']);
  });
});
