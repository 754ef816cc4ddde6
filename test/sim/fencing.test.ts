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
