import { describe, expect, it } from 'vitest';
import { createSimClient, startSimServer } from '../../simulators/index.ts';
import { twoSites } from './world-fixture.ts';

describe('host guard (issue 13)', () => {
  it('turns the armed running primaries off when not renewed before its deadline, and records it', async () => {
    const world = twoSites();
    const armed = await world.api.armGuard({ site: 'east', host: 'he1', vms: ['vm-a'], timeoutMs: 3000 });
    expect(armed).toMatchObject({ armed: true, vms: ['vm-a'], timeoutMs: 3000 });
    world.advance(2000);
    await world.api.renewGuard({ site: 'east', host: 'he1' });
    world.advance(2500);
    // Renewed at 2 s: the deadline is 5 s, not 3 s.
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Running');
    expect(world.truth().guardFirings).toEqual([]);
    world.advance(600);
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Off');
    const status = await world.api.guardStatus('east', 'he1');
    expect(status).toMatchObject({ armed: false, fired: { vms: ['vm-a'] } });
    const truth = world.truth();
    expect(truth.guardFirings).toEqual([
      { site: 'east', host: 'he1', at: status.fired?.at, armedVms: ['vm-a'], vms: ['vm-a'] },
    ]);
    expect(truth.vms['vm-a']?.primarySites).toEqual([]);
    // A renewal after the firing is refused (an agent waking from a pause must re-arm).
    await expect(world.api.renewGuard({ site: 'east', host: 'he1' })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });

  it('a re-arm replaces the deadline: the first arming never fires', async () => {
    const world = twoSites();
    await world.api.armGuard({ site: 'east', host: 'he1', vms: ['vm-a'], timeoutMs: 1000 });
    world.advance(800);
    await world.api.armGuard({ site: 'east', host: 'he1', vms: ['vm-a'], timeoutMs: 1100 });
    world.advance(800);
    expect(world.truth().guardFirings).toEqual([]);
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Running');
    world.advance(400);
    expect(world.truth().guardFirings).toHaveLength(1);
  });

  it('fires nothing once disarmed, and leaves replicas and VMs it was not armed with alone', async () => {
    const world = twoSites();
    await world.api.armGuard({ site: 'east', host: 'he1', vms: ['vm-a'], timeoutMs: 1000 });
    await world.api.disarmGuard({ site: 'east', host: 'he1' });
    world.advance(5000);
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Running');
    // The replica side: armed with the replica, the guard turns nothing off (it is not a primary).
    await world.api.armGuard({ site: 'west', host: 'hw1', vms: ['vm-a'], timeoutMs: 1000 });
    world.advance(2000);
    expect(world.truth().guardFirings).toMatchObject([{ site: 'west', host: 'hw1', vms: [] }]);
    expect((await world.api.getVM('east', 'vm-a')).state).toBe('Running');
    await expect(
      world.api.armGuard({ site: 'east', host: 'he2', vms: ['vm-a'], timeoutMs: 1000 }),
    ).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('is served over HTTP with the same answers', async () => {
    const world = twoSites();
    const server = await startSimServer(world.api, { port: 0 });
    const client = createSimClient(server.url);
    try {
      await client.armGuard({ site: 'east', host: 'he1', vms: ['vm-a'], timeoutMs: 1000 });
      await client.advance(1500);
      expect(await client.guardStatus('east', 'he1')).toMatchObject({
        armed: false,
        fired: { vms: ['vm-a'] },
      });
      expect((await client.truth()).guardFirings).toHaveLength(1);
      await expect(
        client.armGuard({ site: 'east', host: 'he1', vms: [], timeoutMs: -1 }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
    } finally {
      client.close();
      await server.close();
    }
  });
});
