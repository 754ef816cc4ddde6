import { describe, expect, it } from 'vitest';
import { createWorld, primarySitesAt, SimError } from '../../simulators/index.ts';
import { HOUR, twoSites } from './world-fixture.ts';

describe('fencing', () => {
  it('refuses a stale epoch and counts the refusal', async () => {
    const world = twoSites();
    await world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 5 });
    const stale = world.api.startVM({ site: 'east', vm: 'vm-a', epoch: 4 });
    await expect(stale).rejects.toBeInstanceOf(SimError);
    await expect(stale).rejects.toMatchObject({ code: 'STALE_EPOCH', retryable: false });
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Off');
    const truth = world.truth();
    expect(truth.mutations['vm-a']?.east).toEqual({ stopVM: 1, startVM: 1 });
    expect(truth.refused['vm-a']?.east).toEqual({ STALE_EPOCH: 1 });
  });

  it('keeps a fenced VM off when its host returns with automatic start, while an unfenced one starts', async () => {
    const world = createWorld({
      clock: { mode: 'manual' },
      sites: [{ name: 'east', hosts: [{ name: 'h1' }] }],
      vms: [
        { name: 'fenced', site: 'east', host: 'h1', automaticStartAction: 'Start', boot: 1000 },
        { name: 'free', site: 'east', host: 'h1', automaticStartAction: 'StartIfRunning', boot: 1000 },
      ],
    });
    await world.api.fenceVM({ site: 'east', vm: 'fenced', epoch: 3 });
    world.fault({ kind: 'host-crash', site: 'east', host: 'h1' });
    await expect(world.api.getVM('east', 'free')).rejects.toMatchObject({
      code: 'HOST_DOWN',
      retryable: true,
    });
    world.advance(HOUR);
    world.fault({ kind: 'host-up', site: 'east', host: 'h1' });
    world.advance(5_000);
    expect(await world.api.getVM('east', 'fenced')).toMatchObject({ state: 'Off', startBarred: true });
    expect(await world.api.getVM('east', 'free')).toMatchObject({ state: 'Running', heartbeat: 'Ok' });
    // Starting under the fencing epoch stays barred; a newer epoch lifts the fence.
    await expect(world.api.startVM({ site: 'east', vm: 'fenced', epoch: 3 })).rejects.toMatchObject({
      code: 'START_BARRED',
    });
    await world.api.startVM({ site: 'east', vm: 'fenced', epoch: 4 });
    const truth = world.truth();
    expect(truth.vms.fenced?.autoStarts).toBe(0);
    expect(truth.vms.free?.autoStarts).toBe(1);
  });

  it('Set-VM -AutomaticStartAction Nothing keeps a VM that was running off when its host returns', async () => {
    const world = createWorld({
      clock: { mode: 'manual' },
      sites: [{ name: 'east', hosts: [{ name: 'h1' }] }],
      vms: [
        { name: 'held', site: 'east', host: 'h1', automaticStartAction: 'StartIfRunning', boot: 1000 },
        { name: 'free', site: 'east', host: 'h1', automaticStartAction: 'StartIfRunning', boot: 1000 },
      ],
    });
    const set = await world.api.setVMAutomaticStartAction({
      site: 'east',
      vm: 'held',
      epoch: 2,
      action: 'Nothing',
    });
    expect(set).toMatchObject({ automaticStartAction: 'Nothing', state: 'Running' });
    expect((await world.api.getVM('east', 'held')).epoch).toBe(2);
    // An epoch-carrying mutation: an older execution cannot change it back.
    await expect(
      world.api.setVMAutomaticStartAction({ site: 'east', vm: 'held', epoch: 1, action: 'Start' }),
    ).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    world.fault({ kind: 'site-power', site: 'east', state: 'off' });
    world.advance(HOUR);
    world.fault({ kind: 'site-power', site: 'east', state: 'on' });
    world.advance(5_000);
    expect(await world.api.getVM('east', 'held')).toMatchObject({ state: 'Off', startBarred: false });
    expect(await world.api.getVM('east', 'free')).toMatchObject({ state: 'Running' });
    const truth = world.truth();
    expect(truth.vms.held?.autoStarts).toBe(0);
    expect(truth.vms.free?.autoStarts).toBe(1);
    expect(truth.mutations.held?.east).toEqual({ setVMAutomaticStartAction: 2 });
  });

  it("reports Get-VM's Uptime from the VM's last start, 0 while off", async () => {
    const world = createWorld({
      clock: { mode: 'manual' },
      sites: [{ name: 'east', hosts: [{ name: 'h1' }] }],
      vms: [{ name: 'vm', site: 'east', host: 'h1', automaticStartAction: 'StartIfRunning', boot: 1000 }],
    });
    world.advance(90_000);
    expect((await world.api.getVM('east', 'vm')).uptimeSec).toBe(90);
    world.fault({ kind: 'host-crash', site: 'east', host: 'h1' });
    world.advance(60_000);
    world.fault({ kind: 'host-up', site: 'east', host: 'h1' });
    world.advance(2_500);
    // The automatic start began at the host's return: Starting counts, as in Hyper-V.
    expect(await world.api.getVM('east', 'vm')).toMatchObject({ state: 'Running', uptimeSec: 2.5 });
    await world.api.stopVM({ site: 'east', vm: 'vm', epoch: 1, turnOff: true });
    expect((await world.api.getVM('east', 'vm')).uptimeSec).toBe(0);
  });

  it('refuses every call to a powered-off site as unreachable (retryable)', async () => {
    const world = twoSites();
    world.fault({ kind: 'site-power', site: 'east', state: 'off' });
    await expect(world.api.listVMs('east')).rejects.toMatchObject({
      code: 'SITE_UNREACHABLE',
      retryable: true,
    });
    await expect(world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 1 })).rejects.toMatchObject({
      code: 'SITE_UNREACHABLE',
    });
    expect(world.truth().vms['vm-a']?.primarySites).toEqual([]);
  });
});

describe('split-brain ledger', () => {
  it('records a deliberate double start with its exact interval and writes per site', async () => {
    const world = twoSites();
    world.advance(HOUR);
    await world.api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    await world.api.startVM({ site: 'west', vm: 'vm-a', epoch: 1 });
    world.advance(60_000);
    await world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 1 });
    world.advance(60_000);
    const truth = world.truth();
    expect(truth.splitBrain).toEqual([
      {
        vm: 'vm-a',
        sites: ['east', 'west'],
        from: '2026-01-01T01:00:00.000Z',
        to: '2026-01-01T01:01:00.000Z',
        // east wrote for 60 s. west first applied the 300 received-but-unapplied writes of the
        // `latest` point (1,228,800 B at 50 MB/s: 25 ms), booted for 10 s, then wrote for 49.975 s.
        writesBySite: { east: 600, west: 499 },
      },
    ]);
    expect(truth.vms['vm-a']?.timeline).toEqual([
      { site: 'east', from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T01:01:00.000Z' },
      { site: 'west', from: '2026-01-01T01:00:00.000Z', to: null },
    ]);
    expect(truth.failovers[0]?.writesAfterFailover).toBe(600);
    expect(primarySitesAt(truth, 'vm-a', '2026-01-01T00:59:59.999Z')).toEqual(['east']);
    expect(primarySitesAt(truth, 'vm-a', '2026-01-01T01:00:30.000Z')).toEqual(['east', 'west']);
    expect(primarySitesAt(truth, 'vm-a', '2026-01-01T01:01:00.000Z')).toEqual(['west']);
  });
});
