import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../simulators/index.ts';

function offVms(n: number, boot: number | { minMs: number; maxMs: number } = 10_000, seed = 1): World {
  return createWorld({
    seed,
    clock: { mode: 'manual' },
    sites: [{ name: 's', hosts: [{ name: 'h', maxConcurrentBoots: 2 }] }],
    vms: Array.from({ length: n }, (_, i) => ({
      name: `vm-${i}`,
      site: 's',
      host: 'h',
      state: 'Off' as const,
      boot,
    })),
  });
}

describe('boots', () => {
  it('refuses Start-VM beyond the host concurrent-boot limit, retryably, until a boot completes', async () => {
    const world = offVms(3);
    await world.api.startVM({ site: 's', vm: 'vm-0', epoch: 1 });
    await world.api.startVM({ site: 's', vm: 'vm-1', epoch: 1 });
    await expect(world.api.startVM({ site: 's', vm: 'vm-2', epoch: 1 })).rejects.toMatchObject({
      code: 'HOST_BOOT_LIMIT',
      retryable: true,
    });
    expect((await world.api.listHosts('s'))[0]).toMatchObject({ booting: 2, usedSlots: 2 });
    world.advance(10_000);
    await world.api.startVM({ site: 's', vm: 'vm-2', epoch: 1 });
    expect(world.truth().bootLimitRefusals).toBe(1);
  });

  it('resolves waitForHeartbeat when the guest comes up on the manual clock, or times out', async () => {
    const world = offVms(2);
    await world.api.startVM({ site: 's', vm: 'vm-0', epoch: 1 });
    await world.api.fault({ kind: 'boot', vm: 'vm-1', mode: 'fail' });
    await world.api.startVM({ site: 's', vm: 'vm-1', epoch: 1 });
    const ok = world.api.waitForHeartbeat('s', 'vm-0', 60_000);
    const never = world.api.waitForHeartbeat('s', 'vm-1', 60_000);
    world.advance(9_999);
    expect((await world.api.getVM('s', 'vm-0')).state).toBe('Starting');
    world.advance(1);
    expect(await ok).toEqual({ ok: true, waitedMs: 10_000 });
    world.advance(50_000);
    expect(await never).toEqual({ ok: false, waitedMs: 60_000 });
    expect(await world.api.getVM('s', 'vm-1')).toMatchObject({ state: 'Running', heartbeat: 'NoContact' });
  });

  it('multiplies the boot time on a slow-boot fault', async () => {
    const world = offVms(1);
    world.fault({ kind: 'boot', vm: 'vm-0', mode: 'slow', factor: 3 });
    await world.api.startVM({ site: 's', vm: 'vm-0', epoch: 1 });
    const wait = world.api.waitForHeartbeat('s', 'vm-0', 600_000);
    world.advance(30_000);
    expect(await wait).toEqual({ ok: true, waitedMs: 30_000 });
  });

  it('resolves waitForHeartbeat on a scaled clock without anyone advancing time', async () => {
    const world = createWorld({
      clock: { mode: 'scaled', speed: 1000 },
      sites: [{ name: 's', hosts: [{ name: 'h' }] }],
      vms: [{ name: 'v', site: 's', host: 'h', state: 'Off', boot: 20_000 }],
    });
    try {
      await world.api.startVM({ site: 's', vm: 'v', epoch: 1 });
      const result = await world.api.waitForHeartbeat('s', 'v', 3_600_000);
      expect(result.ok).toBe(true);
      // Measured from the wait's start, which is a little after Start-VM in simulated time.
      expect(result.waitedMs).toBeGreaterThan(15_000);
      expect(result.waitedMs).toBeLessThanOrEqual(20_000);
    } finally {
      world.close();
    }
  });

  it('draws boot times from the distribution deterministically under a seed', async () => {
    async function run(seed: number): Promise<number[]> {
      const world = offVms(2, { minMs: 1_000, maxMs: 60_000 }, seed);
      const waits = [];
      for (const vm of ['vm-0', 'vm-1']) {
        await world.api.startVM({ site: 's', vm, epoch: 1 });
        waits.push(world.api.waitForHeartbeat('s', vm, 120_000));
      }
      world.advance(120_000);
      return (await Promise.all(waits)).map((w) => w.waitedMs);
    }
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(a[0]).not.toBe(a[1]);
    for (const ms of a) expect(ms >= 1_000 && ms <= 60_000).toBe(true);
  });
});
