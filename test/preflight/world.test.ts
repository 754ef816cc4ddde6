import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { measureRecoveryPointGap } from '../../engine/client/index.ts';
import { acquireLocks, createLockReader, markFailedOver } from '../../engine/locks/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { type PreflightInput, runPreflight } from '../../engine/preflight/index.ts';
import {
  createSimClient,
  createWorld,
  type HyperVApi,
  startSimServer,
  type World,
  type WorldSpec,
  worldForPlan,
  worldSpecForPlan,
} from '../../simulators/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';
import { codes, makePlan } from './fixtures.ts';

const READS = new Set([
  'now',
  'listSites',
  'listHosts',
  'listNetworks',
  'listVMs',
  'getVM',
  'getRecoveryPoints',
  'measureVMReplication',
]);

/** Wraps the API so any call outside the read set fails the test, and records every call. */
function readOnlySpy(api: HyperVApi): { api: HyperVApi; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls.push(prop);
        if (!READS.has(prop)) throw new Error(`pre-flight made a mutating call: ${prop}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { api: proxy, calls };
}

const net = (test = 'drill-net') => ({ failover: { network: 'prod-west' }, test: { network: test } });
const plan = makePlan(
  [
    { name: 'sql-01', network: net() },
    { name: 'app-01', dependsOn: ['sql-01'], network: net() },
    { name: 'web-01', dependsOn: ['app-01'], network: net() },
  ],
  { targets: { rpoMs: 15 * 60_000 } },
);

const worlds: World[] = [];
function world(p: RecoveryPlan = plan, edit?: (spec: WorldSpec) => void): World {
  const spec = worldSpecForPlan(p);
  edit?.(spec);
  const w = createWorld(spec);
  w.advance(2 * 3_600_000);
  worlds.push(w);
  return w;
}
afterEach(() => {
  for (const w of worlds.splice(0)) w.close();
});

const redis: Redis = testRedisClient();
afterAll(async () => {
  await redis.quit();
});

function preflight(w: World, input: Partial<PreflightInput> & Pick<PreflightInput, 'type'>) {
  return runPreflight({ plan, api: w.api, ...input });
}

describe('pre-flight against the simulated world', () => {
  it('passes a healthy world for each failover type, placing each VM on its replica host', async () => {
    const w = world();
    for (const type of ['test', 'planned', 'unplanned'] as const) {
      const report = await preflight(w, { type, points: 'all' });
      expect(report.blockers).toEqual([]);
      expect(report.placements.map((p) => p.host)).toEqual([
        'hv-dc-west-01',
        'hv-dc-west-01',
        'hv-dc-west-01',
      ]);
      // a planned failover replicates once more after the primaries stop: its point is newer still
      expect(report.placements[0]?.recoveryPoint).toMatchObject({
        kind: 'latest',
        approximate: type === 'planned',
      });
      expect(report.placements[0]?.recoveryPoint?.ageMs).toBeLessThanOrEqual(30_000);
      expect(report.estimatedRtoMs).toBeGreaterThan(0);
      expect(report.locksChecked).toBe(false);
    }
  });

  it('by default lists recovery points only where the choice needs them, and estimates `latest` from the last cycle', async () => {
    const w = world();
    const exact = await preflight(w, { type: 'unplanned', points: 'all' });
    const quick = await preflight(w, { type: 'unplanned' });
    expect(exact.stats.apiCalls).toBe(7 + 3);
    expect(quick.stats.apiCalls).toBe(7);
    expect(
      quick.placements.map((p) => [p.recoveryPoint?.id, p.recoveryPoint?.time, p.recoveryPoint?.approximate]),
    ).toEqual(exact.placements.map((p) => [p.recoveryPoint?.id, p.recoveryPoint?.time, true]));
  });

  it('estimates the RTO of the selected part only', async () => {
    const w = world();
    const whole = await preflight(w, { type: 'test' });
    const part = await preflight(w, { type: 'test', selection: { vms: ['sql-01'] } });
    expect(part.estimatedRtoMs).toBeLessThan(whole.estimatedRtoMs ?? 0);
    expect((await preflight(w, { type: 'test', estimate: false })).estimatedRtoMs).toBeUndefined();
  });

  it('warns that an unplanned failover of running primaries loses their last writes', async () => {
    const report = await preflight(
      world(plan, (spec) => {
        for (const vm of spec.vms) vm.automaticStartAction = 'Nothing';
      }),
      { type: 'unplanned' },
    );
    expect(report.ok).toBe(true);
    expect(codes(report.warnings)).toEqual(['PRIMARY_RUNNING']);
    expect(report.warnings[0]?.message).toContain('3 VM(s) still run at the source');
    const one = await preflight(world(), { type: 'unplanned', selection: { vms: ['sql-01'] } });
    expect(one.warnings.map((w) => [w.code, w.vm, w.path])).toEqual([
      ['PRIMARY_RUNNING', 'sql-01', 'spec.vms[0]'],
      ['AUTOMATIC_START_ACTION', 'sql-01', 'spec.vms[0]'],
    ]);
  });

  it('warns, at each VM, of primaries whose automatic start action would start them when their lost site returns', async () => {
    const w = world(plan, (spec) => {
      for (const vm of spec.vms) if (vm.name === 'app-01') vm.automaticStartAction = 'Nothing';
      for (const vm of spec.vms) if (vm.name === 'web-01') vm.automaticStartAction = 'Start';
    });
    const report = await preflight(w, { type: 'unplanned' });
    expect(report.ok).toBe(true);
    const starts = report.warnings.filter((f) => f.code === 'AUTOMATIC_START_ACTION');
    expect(starts.map((f) => [f.vm, f.path, f.site, f.details?.automaticStartAction])).toEqual(
      plan.vms
        .filter((vm) => vm.name !== 'app-01')
        .map((vm) => [
          vm.name,
          `spec.vms[${plan.vms.indexOf(vm)}]`,
          'dc-east',
          vm.name === 'web-01' ? 'Start' : 'StartIfRunning',
        ]),
    );
    expect(starts[0]?.hint).toContain('drctl protect <plan.yaml> --automatic-start-action Nothing');
    // Once the engine set it to Nothing (Set-VM -AutomaticStartAction), nothing to warn of.
    for (const vm of plan.vms)
      await w.api.setVMAutomaticStartAction({ site: 'dc-east', vm: vm.name, epoch: 0, action: 'Nothing' });
    const after = await preflight(w, { type: 'unplanned' });
    expect(codes(after.warnings)).not.toContain('AUTOMATIC_START_ACTION');
    // A planned failover prepares (bars) its primaries, a drill leaves them alone: no warning.
    expect(codes((await preflight(world(), { type: 'planned' })).warnings)).not.toContain(
      'AUTOMATIC_START_ACTION',
    );
  });

  describe('when the source site is lost', () => {
    it('lets the unplanned failover through and refuses a planned one', async () => {
      const w = world();
      w.fault({ kind: 'site-power', site: 'dc-east', state: 'off' });
      w.advance(5 * 60_000);
      const unplanned = await preflight(w, { type: 'unplanned' });
      expect(unplanned.blockers).toEqual([]);
      expect(codes(unplanned.warnings)).toContain('SOURCE_UNREACHABLE');
      const planned = await preflight(w, { type: 'planned' });
      expect(codes(planned.blockers)).toContain('SOURCE_UNREACHABLE');
    });
  });

  it('blocks everything when the target site is down, without reading each VM', async () => {
    const big = makePlan(Array.from({ length: 500 }, (_, i) => ({ name: `vm-${i}` })));
    const w = world(big);
    w.fault({ kind: 'site-power', site: 'dc-west', state: 'off' });
    const { api, calls } = readOnlySpy(w.api);
    const report = await runPreflight({ plan: big, api, type: 'unplanned', points: 'all', concurrency: 64 });
    expect(codes(report.blockers)).toEqual(['TARGET_UNREACHABLE']);
    expect(calls.filter((c) => c === 'getRecoveryPoints').length).toBeLessThanOrEqual(2 * 64);
  });

  it('reads the recovery points of every VM with at most `concurrency` reads in flight', async () => {
    const big = makePlan(Array.from({ length: 100 }, (_, i) => ({ name: `vm-${i}` })));
    const w = world(big);
    let inFlight = 0;
    let most = 0;
    const read = new Set<string>();
    const api = new Proxy(w.api, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'getRecoveryPoints' || typeof value !== 'function') return value;
        return async (site: string, vm: string) => {
          inFlight++;
          most = Math.max(most, inFlight);
          read.add(vm);
          try {
            return await (value as HyperVApi['getRecoveryPoints']).call(target, site, vm);
          } finally {
            inFlight--;
          }
        };
      },
    });
    const report = await runPreflight({ plan: big, api, type: 'unplanned', points: 'all', concurrency: 8 });
    expect(report.blockers).toEqual([]);
    expect(read.size).toBe(100);
    expect(most).toBe(8);
  });

  it('makes no mutating call, in-process (spy) or per the ground truth', async () => {
    const w = world();
    const before = JSON.stringify(w.truth().mutations);
    const { api, calls } = readOnlySpy(w.api);
    const lockPrefix = uniquePrefix('pf');
    await acquireLocks(redis, lockPrefix, { execution: 'other', plan: 'crm', vms: ['web-01'] });
    for (const type of ['test', 'planned', 'unplanned'] as const) {
      await runPreflight({ plan, api, type, locks: createLockReader(redis, lockPrefix) });
    }
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => READS.has(c))).toBe(true);
    expect(JSON.stringify(w.truth().mutations)).toBe(before);
  });

  it('shows how far apart the VMs would land on a throttled link (issue 10: it showed 0 s)', async () => {
    const w = world(plan, (spec) => {
      const app = spec.vms.find((vm) => vm.name === 'app-01');
      if (app !== undefined) app.workload = { writesPerSec: 100, bytesPerWrite: 4096 };
    });
    // Each of the three relationships gets 20 writes/s of the link: sql-01 and web-01 (10/s) keep
    // up, app-01 (100/s) ships 600 of its 3,000 writes a cycle, so after 10 min its newest data
    // is about 8 min older than theirs.
    w.fault({ kind: 'throttle', from: 'dc-east', to: 'dc-west', bandwidthBytesPerSec: 3 * 20 * 4096 });
    w.advance(10 * 60_000);
    const report = await preflight(w, { type: 'unplanned', points: 'all' });
    const spread = report.recoveryPointSpread;
    expect(spread).toMatchObject({ vms: 3, oldestVm: 'app-01', approximate: false });
    expect(spread?.spreadMs).toBeGreaterThan(7 * 60_000);
    expect(spread?.spreadMs).toBeLessThan(9 * 60_000);
    // The client's gap, kept with an unplanned failover, says the same.
    const gap = await measureRecoveryPointGap(w.api, plan);
    expect(gap.spreadMs).toBe(spread?.spreadMs);
  });

  it('blocks a VM that needs a resync after a long link outage', async () => {
    const w = world(plan, (spec) => {
      const app = spec.vms.find((vm) => vm.name === 'app-01');
      if (app !== undefined) {
        app.diskBytes = 200 * 1024 * 1024;
        app.workload = { writesPerSec: 100, bytesPerWrite: 4096 };
      }
    });
    w.fault({ kind: 'link', from: 'dc-east', to: 'dc-west', state: 'down' });
    w.advance(10 * 60_000);
    w.fault({ kind: 'link', from: 'dc-east', to: 'dc-west', state: 'up' });
    w.advance(60_000);
    const report = await preflight(w, { type: 'test' });
    expect(codes(report.blockers)).toContain('RESYNC_REQUIRED:app-01');
    expect(report.blockers.find((b) => b.code === 'RESYNC_REQUIRED')?.path).toBe('spec.vms[1]');
  });

  it('blocks an unplanned failover whose recovery point is older than the RPO target', async () => {
    const w = world();
    w.fault({ kind: 'link', from: 'dc-east', to: 'dc-west', state: 'down' });
    w.advance(20 * 60_000);
    const report = await preflight(w, { type: 'unplanned' });
    expect(codes(report.blockers.filter((b) => b.code === 'RPO_NOT_MET'))).toEqual([
      'RPO_NOT_MET:sql-01',
      'RPO_NOT_MET:app-01',
      'RPO_NOT_MET:web-01',
    ]);
    // a planned failover is not held to the RPO (it sends the pending writes itself), but it
    // needs the link to do so
    const planned = await preflight(w, { type: 'planned' });
    expect(codes(planned.blockers)).toEqual([
      'REPLICATION_BEHIND:sql-01',
      'REPLICATION_BEHIND:app-01',
      'REPLICATION_BEHIND:web-01',
    ]);
  });

  it('blocks a VM that another plan already failed over, by the simulator and by the record', async () => {
    const w = world();
    await w.api.startVMFailover({ site: 'dc-west', vm: 'sql-01', epoch: 1, mode: 'failover' });
    const lockPrefix = uniquePrefix('pf');
    await markFailedOver(redis, lockPrefix, ['sql-01'], {
      plan: 'crm',
      execution: 'exec-9',
      site: 'dc-west',
      direction: 'forward',
      at: w.nowIso(),
    });
    const report = await preflight(w, { type: 'unplanned', locks: createLockReader(redis, lockPrefix) });
    expect(codes(report.blockers)).toEqual(['ALREADY_FAILED_OVER:sql-01']);
    expect(report.blockers[0]?.message).toContain("by plan 'crm' (execution exec-9");
  });

  it('blocks a VM locked by another execution and a plan another execution runs', async () => {
    const w = world();
    const lockPrefix = uniquePrefix('pf');
    await acquireLocks(redis, lockPrefix, {
      execution: 'exec-1',
      plan: 'erp',
      vms: ['app-01'],
      operation: 'test',
    });
    const report = await preflight(w, { type: 'planned', locks: createLockReader(redis, lockPrefix) });
    expect(codes(report.blockers)).toEqual(['PLAN_LOCKED', 'VM_LOCKED:app-01']);
    expect(report.locksChecked).toBe(true);
    const resumed = await preflight(w, {
      type: 'planned',
      locks: createLockReader(redis, lockPrefix),
      execution: 'exec-1',
    });
    expect(resumed.ok).toBe(true);
  });

  it('blocks a missing failover network and a test network that is not isolated', async () => {
    const other = makePlan([
      { name: 'sql-01', network: { failover: { network: 'dmz-west' }, test: { network: 'drill-net' } } },
      { name: 'app-01', network: net('lab-net') },
      { name: 'web-01', network: net() },
    ]);
    const w = world(other, (spec) => {
      const west = spec.sites.find((s) => s.name === 'dc-west');
      if (west === undefined) return;
      west.networks = (west.networks ?? [])
        .filter((n) => n.name !== 'dmz-west')
        .map((n) => (n.name === 'lab-net' ? { ...n, isolated: false } : n));
    });
    const unplanned = await runPreflight({ plan: other, api: w.api, type: 'unplanned' });
    expect(unplanned.blockers.map((b) => [b.code, b.path])).toEqual([
      ['NETWORK_MISSING', 'spec.vms[0].network.failover'],
    ]);
    const drill = await runPreflight({ plan: other, api: w.api, type: 'test' });
    expect(drill.blockers.map((b) => [b.code, b.path])).toEqual([
      ['TEST_NETWORK_NOT_ISOLATED', 'spec.vms[1].network.test'],
    ]);
  });

  describe('capacity at 80 %', () => {
    // One 50-slot host per site; filler VMs already run at the target.
    const withFiller = (filler: number) =>
      world(plan, (spec) => {
        for (const site of spec.sites) for (const h of site.hosts) h.vmSlots = 50;
        for (let i = 0; i < filler; i++) {
          spec.vms.push({
            name: `filler-${i}`,
            site: 'dc-west',
            host: 'hv-dc-west-01',
            memoryMb: 512,
            state: 'Running',
          });
        }
      });

    it('passes when the failover leaves the target at exactly 80 % of its slots', async () => {
      const report = await preflight(withFiller(37), { type: 'unplanned', maxUtilization: 0.8 });
      expect(report.capacity?.slots).toEqual({ total: 50, used: 37, needed: 3 });
      expect(report.blockers).toEqual([]);
    });

    it('blocks when it would pass 80 %', async () => {
      const report = await preflight(withFiller(38), { type: 'unplanned', maxUtilization: 0.8 });
      expect(codes(report.blockers)).toEqual(['INSUFFICIENT_CAPACITY']);
      expect(report.blockers[0]?.message).toContain('needs 3 slot(s), 2 free of 50');
    });
  });

  describe('failing over part of the plan', () => {
    it('passes when the dependency outside the selection already runs at the target', async () => {
      const w = world();
      await w.api.startVMFailover({ site: 'dc-west', vm: 'sql-01', epoch: 1, mode: 'failover' });
      await w.api.startVM({ site: 'dc-west', vm: 'sql-01', epoch: 1 });
      w.advance(120_000);
      const report = await preflight(w, { type: 'unplanned', selection: { vms: ['app-01'] } });
      expect(report.selected).toEqual(['app-01']);
      expect(report.blockers).toEqual([]);
    });

    it('names the dependency that is neither selected nor running', async () => {
      const report = await preflight(world(), { type: 'unplanned', selection: { vms: ['web-01'] } });
      expect(report.blockers.map((b) => [b.code, b.vm, b.path])).toEqual([
        ['DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', 'web-01', 'spec.vms[2].dependsOn[0]'],
      ]);
    });
  });

  describe('failing back after a planned failover, commit and reprotect', () => {
    async function failedOverAndReversed(): Promise<World> {
      const w = world();
      for (const vm of ['web-01', 'app-01', 'sql-01']) await w.api.stopVM({ site: 'dc-east', vm, epoch: 1 });
      w.advance(60_000);
      for (const vm of ['sql-01', 'app-01', 'web-01']) {
        await w.api.startVMFailover({ site: 'dc-east', vm, epoch: 1, mode: 'prepare' });
        await w.api.startVMFailover({ site: 'dc-west', vm, epoch: 1, mode: 'failover' });
        await w.api.completeVMFailover({ site: 'dc-west', vm, epoch: 1 });
        await w.api.startVM({ site: 'dc-west', vm, epoch: 1 });
        await w.api.reverseVMReplication({ site: 'dc-west', vm, epoch: 1 });
      }
      w.advance(2 * 3_600_000);
      return w;
    }

    it('passes, and a forward run of the same plan is refused', async () => {
      const w = await failedOverAndReversed();
      const back = await preflight(w, { type: 'planned', direction: 'failback' });
      expect(back.blockers).toEqual([]);
      expect([back.fromSite, back.toSite]).toEqual(['dc-west', 'dc-east']);
      expect(back.placements.map((p) => p.site)).toEqual(['dc-east', 'dc-east', 'dc-east']);
      const forward = await preflight(w, { type: 'planned' });
      expect(codes(forward.blockers)).toEqual(expect.arrayContaining(['ALREADY_FAILED_OVER:sql-01']));
    });

    it('refuses VMs another plan failed over', async () => {
      const w = await failedOverAndReversed();
      const lockPrefix = uniquePrefix('pf');
      const record = { execution: 'e-crm', site: 'dc-west', direction: 'forward' as const, at: w.nowIso() };
      await markFailedOver(redis, lockPrefix, ['sql-01'], { ...record, plan: 'crm' });
      await markFailedOver(redis, lockPrefix, ['app-01', 'web-01'], { ...record, plan: 'erp' });
      const back = await preflight(w, {
        type: 'planned',
        direction: 'failback',
        locks: createLockReader(redis, lockPrefix),
      });
      expect(codes(back.blockers)).toEqual(['ALREADY_FAILED_OVER:sql-01']);
      expect(back.blockers[0]?.message).toContain("another plan, 'crm'");
    });
  });

  it('gives the same report over HTTP', async () => {
    const w = worldForPlan(plan);
    worlds.push(w);
    const server = await startSimServer(w.api);
    const client = createSimClient(server.url);
    try {
      const [local, remote] = await Promise.all([
        preflight(w, { type: 'test', points: 'all' }),
        runPreflight({ plan, api: client, type: 'test', points: 'all' }),
      ]);
      expect(remote.placements).toEqual(local.placements);
      expect(remote.ok).toBe(true);
      expect(remote.stats.apiCalls).toBe(4 + 3);
    } finally {
      client.close();
      await server.close();
    }
  });
});
