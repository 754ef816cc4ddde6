import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { redisSweepVault, startFenceSweep } from '../../engine/executor/handlers/fence-sweep.ts';
import { executionKeys, readAllEvents } from '../../engine/executor/index.ts';
import { markFailedOver } from '../../engine/locks/index.ts';
import type { World } from '../../simulators/create-world.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';
import { mutations, SOURCE, TARGET, twoSiteWorld } from './support.ts';

const silent = createLogger('test', { level: 'silent', pretty: false });

describe("the site agent's fence sweep", () => {
  let redis: Redis;
  let world: World;
  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(() => world?.close());

  async function failedOver(prefix: string, vms: string[], epoch: number): Promise<void> {
    await redis.hset(executionKeys(prefix, 'ex5').meta, 'epoch', String(epoch));
    await markFailedOver(redis, prefix, vms, {
      plan: 'p',
      execution: 'ex5',
      site: TARGET,
      direction: 'forward',
      at: new Date().toISOString(),
    });
  }

  it('fences an old primary running here that was failed over elsewhere, under that failover’s epoch, and logs it', async () => {
    world = twoSiteWorld(['app-01', 'app-02', 'app-03'], { manual: true });
    world.advance(600_000);
    const prefix = uniquePrefix('sweep');
    await failedOver(prefix, ['app-01', 'app-02'], 5);
    // app-02 was taken by a newer execution since (a failback, a cancel that restored it).
    await world.api.connectVMNetwork({ site: SOURCE, vm: 'app-02', epoch: 9, network: 'prod-east' });
    const sweeper = startFenceSweep({
      api: world.api,
      vault: redisSweepVault(redis, prefix),
      site: SOURCE,
      log: silent,
      intervalMs: 60_000,
    });
    try {
      expect(await sweeper.sweep()).toEqual(['app-01']);
      expect(await world.api.getVM(SOURCE, 'app-01')).toMatchObject({
        state: 'Off',
        startBarred: true,
        epoch: 5,
      });
      expect(mutations(world, 'app-01', SOURCE)).toEqual({ fenceVM: 1 });
      // Newer epoch: left alone. Not recorded as failed over (app-03): left alone.
      expect((await world.api.getVM(SOURCE, 'app-02')).state).toBe('Running');
      expect(mutations(world, 'app-02', SOURCE)).toEqual({ connectVMNetwork: 1 });
      expect((await world.api.getVM(SOURCE, 'app-03')).state).toBe('Running');
      expect(mutations(world, 'app-03', SOURCE)).toEqual({});
      // Recorded as a divergence (it ran here while recorded failed over to the target), from
      // its start (Get-VM's Uptime: the world's start) to the fence, with what reprotect would discard.
      const events = (await readAllEvents(redis, prefix, 'ex5')).map((e) => e.event);
      const now = await world.api.now();
      expect(events).toEqual([
        expect.objectContaining({
          type: 'diverged',
          vm: 'app-01',
          site: SOURCE,
          runsAt: TARGET,
          ranUntil: now,
          fenced: true,
          detectedBy: 'fence-sweep',
        }),
      ]);
      const [diverged] = events;
      if (diverged?.type !== 'diverged') throw new Error('unreachable');
      // Exactly the ledger's run of the old primary (a manual clock: no time passes in between).
      const run = world.truth().vms['app-01']?.timeline[0];
      expect(run?.to).toBe(now);
      expect(diverged.ranFrom).toBe(run?.from);
      expect(diverged.ranMs).toBe(Date.parse(now) - Date.parse(run?.from ?? ''));
      expect(diverged.discard.since).toBe(
        (await world.api.getVM(SOURCE, 'app-01')).replication?.lastReplicationTime,
      );
      expect(diverged.discard.bytes).toBe(
        (await world.api.measureVMReplication(SOURCE, 'app-01')).pendingBytes,
      );
      // Nothing left to do: a second sweep makes no call.
      expect(await sweeper.sweep()).toEqual([]);
      expect(mutations(world, 'app-01', SOURCE)).toEqual({ fenceVM: 1 });
    } finally {
      sweeper.stop();
    }
  });

  it('leaves the VMs of the site they were failed over to alone, and a site that does not answer', async () => {
    world = twoSiteWorld(['app-01']);
    const prefix = uniquePrefix('sweep');
    await failedOver(prefix, ['app-01'], 5);
    await world.api.startVMFailover({ site: TARGET, vm: 'app-01', epoch: 5, mode: 'failover' });
    await world.api.startVM({ site: TARGET, vm: 'app-01', epoch: 5 });
    const atTarget = startFenceSweep({
      api: world.api,
      vault: redisSweepVault(redis, prefix),
      site: TARGET,
      log: silent,
      intervalMs: 60_000,
    });
    const atSource = startFenceSweep({
      api: world.api,
      vault: redisSweepVault(redis, prefix),
      site: SOURCE,
      log: silent,
      intervalMs: 60_000,
    });
    try {
      expect(await atTarget.sweep()).toEqual([]);
      world.fault({ kind: 'site-power', site: SOURCE, state: 'off' });
      expect(await atSource.sweep()).toEqual([]);
      expect(world.truth().mutations['app-01']?.[SOURCE]).toBeUndefined();
      // The site returns (StartIfRunning starts the old primary): the next sweep fences it.
      world.fault({ kind: 'site-power', site: SOURCE, state: 'on' });
      expect(world.truth().vms['app-01']?.primarySites).toEqual([SOURCE, TARGET]);
      expect(await atSource.sweep()).toEqual(['app-01']);
      expect(world.truth().vms['app-01']?.primarySites).toEqual([TARGET]);
    } finally {
      atTarget.stop();
      atSource.stop();
    }
  });

  // Issue 10: a cancel that brought a VM back up at the target (its restore found no source)
  // records it failed over again under its return epoch; a restart of the old primary under the
  // cancel's own epoch (newer than the failover's) must not count as "a newer execution owns it".
  it('fences under the epoch a record carries (a cancel’s return), above the cancel’s own', async () => {
    world = twoSiteWorld(['app-01'], { manual: true });
    const prefix = uniquePrefix('sweep');
    await redis.hset(executionKeys(prefix, 'ex5-cancel-1').meta, 'epoch', '6');
    await markFailedOver(redis, prefix, ['app-01'], {
      plan: 'p',
      execution: 'ex5-cancel-1',
      site: TARGET,
      direction: 'forward',
      at: new Date().toISOString(),
      epoch: 7,
    });
    // The old primary, restarted under the cancel's epoch 6 by a restore that came late.
    await world.api.connectVMNetwork({ site: SOURCE, vm: 'app-01', epoch: 6, network: 'prod-east' });
    const sweeper = startFenceSweep({
      api: world.api,
      vault: redisSweepVault(redis, prefix),
      site: SOURCE,
      log: silent,
      intervalMs: 60_000,
    });
    try {
      expect(await sweeper.sweep()).toEqual(['app-01']);
      expect(await world.api.getVM(SOURCE, 'app-01')).toMatchObject({
        state: 'Off',
        startBarred: true,
        epoch: 7,
      });
    } finally {
      sweeper.stop();
    }
  });
});
