import { describe, expect, it } from 'vitest';
import { HOUR, twoSites } from './world-fixture.ts';

describe('test failover (drill)', () => {
  it('makes no mutating call on the primary, keeps replicating, and puts the test VM only on the isolated network', async () => {
    const world = twoSites();
    world.advance(HOUR);
    const before = world.truth();
    const cyclesBefore = before.replication.vms['vm-a']?.[0]?.totalCycles ?? 0;

    const { vm: test, recoveryPoint } = await world.api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'test',
      recoveryPoint: { kind: 'latestProcessed' },
      testNetwork: { network: 'drill', ip: '192.168.99.5' },
    });
    expect(test).toMatchObject({
      name: 'vm-a - Test',
      isTest: true,
      state: 'Off',
      network: { network: 'drill' },
    });
    expect(recoveryPoint).not.toHaveProperty('seq');
    expect(world.truth().failovers[0]?.recoveryPoint.seq).toBeGreaterThan(0);
    await world.api.startVM({ site: 'west', vm: 'vm-a - Test', epoch: 1 });
    world.advance(10_000);
    expect(await world.api.waitForHeartbeat('west', 'vm-a - Test', 0)).toEqual({ ok: true, waitedMs: 0 });
    world.advance(20 * 60_000);

    const networks = await world.api.listNetworks('west');
    const testVms = (await world.api.listVMs('west')).filter((v) => v.isTest);
    expect(testVms).toHaveLength(1);
    for (const v of testVms) {
      expect(networks.find((n) => n.name === v.network?.network)?.isolated).toBe(true);
    }

    await world.api.stopVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, test: true });
    expect((await world.api.listVMs('west')).filter((v) => v.isTest)).toEqual([]);

    const after = world.truth();
    // Nothing touched the primary site; replication ran on: 10 s + 20 min at 30 s per cycle = 40 cycles.
    expect(after.mutations['vm-a']?.east).toBeUndefined();
    const rep = after.replication.vms['vm-a']?.[0];
    expect((rep?.totalCycles ?? 0) - cyclesBefore).toBe(40);
    expect(rep?.missedCycles).toBe(0);
    expect(after.vms['vm-a']?.primarySites).toEqual(['east']);
    expect(after.vms['vm-a']?.timeline).toHaveLength(1);
    expect(after.splitBrain).toEqual([]);
    expect(after.failovers[0]).toMatchObject({
      kind: 'test',
      testNetwork: { network: 'drill', isolated: true },
    });
    expect((await world.api.getVM('west', 'vm-a')).replication?.state).toBe('Replicating');
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Running');
  });

  it('refuses a second test failover while a test VM exists, and a test network the site lacks', async () => {
    const world = twoSites();
    world.advance(HOUR);
    await expect(
      world.api.startVMFailover({
        site: 'west',
        vm: 'vm-a',
        epoch: 1,
        mode: 'test',
        testNetwork: { network: 'nowhere' },
      }),
    ).rejects.toMatchObject({ code: 'NETWORK_NOT_FOUND' });
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'test' });
    await expect(
      world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'test' }),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    // A real failover must wait for the drill's cleanup, as in Hyper-V.
    await expect(
      world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' }),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });
});
