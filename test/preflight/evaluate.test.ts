import { describe, expect, it } from 'vitest';
import { InputError } from '../../engine/common/index.ts';
import { evaluatePreflight } from '../../engine/preflight/index.ts';
import { codes, host, latestPoint, makeInventory, makePlan, NOW, replica } from './fixtures.ts';

const threeTier = makePlan([
  { name: 'sql-01', network: { failover: { network: 'prod-west' }, test: { network: 'drill-net' } } },
  {
    name: 'app-01',
    dependsOn: ['sql-01'],
    network: { failover: { network: 'prod-west' }, test: { network: 'drill-net' } },
  },
  {
    name: 'web-01',
    dependsOn: ['app-01'],
    network: { failover: { network: 'prod-west' }, test: { network: 'drill-net' } },
  },
]);
const replicas = () => [replica('sql-01'), replica('app-01', { host: 'w2' }), replica('web-01')];
const hosts = () => [host('w1'), host('w2')];

describe('when everything is in order', () => {
  it('has no blocker and places each VM on its replica host with the point it would get', () => {
    const report = evaluatePreflight(threeTier, makeInventory({ vms: replicas(), hosts: hosts() }), {
      type: 'planned',
      estimateRtoMs: 180_000,
    });
    expect(report.blockers).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.placements.map((p) => [p.vm, p.host, p.recoveryPoint?.id, p.recoveryPoint?.ageMs])).toEqual(
      [
        ['sql-01', 'w1', 'dc-west.sql-01.latest', 60_000],
        ['app-01', 'w2', 'dc-west.app-01.latest', 60_000],
        ['web-01', 'w1', 'dc-west.web-01.latest', 60_000],
      ],
    );
    expect(report.placements[0]?.network).toEqual({ network: 'prod-west' });
    expect(report.estimatedRtoMs).toBe(180_000);
    expect(report.checkedAt).toBe(NOW.toISOString());
  });
});

describe('capacity at the target', () => {
  // 100 slots and 400 GiB at dc-west; each VM needs one slot and 4 GiB.
  const plan = makePlan(Array.from({ length: 31 }, (_, i) => ({ name: `vm-${i}` })));
  const run = (
    vmCount: number,
    used: number,
    options: { maxUtilization?: number; warnUtilization?: number } = {},
  ) =>
    evaluatePreflight(
      plan,
      makeInventory({
        vms: plan.vms.slice(0, vmCount).map((vm) => replica(vm.name)),
        hosts: [host('w1', { usedSlots: used, usedMemoryMb: used * 1024 })],
      }),
      { type: 'unplanned', selection: { vms: plan.vms.slice(0, vmCount).map((vm) => vm.name) }, ...options },
    );

  describe('with an 80 % limit (a site that keeps 20 % headroom)', () => {
    it('passes when the failover leaves the site at exactly 80 %', () => {
      const report = run(10, 70, { maxUtilization: 0.8 });
      expect(report.blockers).toEqual([]);
      expect(report.capacity?.utilizationAfter).toBeCloseTo(0.8);
    });

    it('blocks one VM past 80 %, with the needed and free figures', () => {
      const report = run(11, 70, { maxUtilization: 0.8 });
      expect(codes(report.blockers)).toEqual(['INSUFFICIENT_CAPACITY']);
      const blocker = report.blockers[0];
      expect(blocker?.path).toBe('spec.target');
      expect(blocker?.details).toMatchObject({
        neededSlots: 11,
        freeSlots: 10,
        totalSlots: 100,
        maxUtilization: 0.8,
      });
      expect(blocker?.message).toContain('81 %');
      expect(blocker?.message).toContain('needs 11 slot(s), 10 free of 100');
    });
  });

  describe('with the defaults (block what does not fit, warn above 80 %)', () => {
    it('passes at 80 % without a word', () => {
      const report = run(10, 70);
      expect(report.blockers).toEqual([]);
      expect(report.warnings).toEqual([]);
    });

    it('warns past 80 %', () => {
      const report = run(11, 70);
      expect(report.ok).toBe(true);
      expect(codes(report.warnings)).toEqual(['CAPACITY_HIGH']);
    });

    it('passes at exactly 100 % and blocks one VM more', () => {
      expect(run(30, 70).blockers).toEqual([]);
      expect(codes(run(31, 70).blockers)).toEqual(['INSUFFICIENT_CAPACITY', 'INSUFFICIENT_CAPACITY']);
    });
  });

  it('blocks on memory as well as slots', () => {
    const big = makePlan([{ name: 'big' }]);
    const report = evaluatePreflight(
      big,
      makeInventory({
        vms: [replica('big', { memoryMb: 100_000 })],
        hosts: [host('w1', { usedMemoryMb: 300_000 })],
      }),
      { type: 'test', maxUtilization: 0.8 },
    );
    expect(codes(report.blockers)).toEqual(['INSUFFICIENT_CAPACITY']);
    expect(report.blockers[0]?.details).toMatchObject({ neededMemoryMb: 100_000 });
  });

  it('blocks a host whose replicas do not fit, even when the site has room', () => {
    const plan2 = makePlan([{ name: 'a' }, { name: 'b' }]);
    const report = evaluatePreflight(
      plan2,
      makeInventory({
        vms: [replica('a', { host: 'small' }), replica('b', { host: 'small' })],
        hosts: [
          host('small', { vmSlots: 2, usedSlots: 1 }),
          host('w1', { vmSlots: 1000, memoryMb: 10_000_000 }),
        ],
      }),
      { type: 'planned' },
    );
    expect(report.blockers).toHaveLength(1);
    expect(report.blockers[0]).toMatchObject({ code: 'INSUFFICIENT_CAPACITY', host: 'small' });
  });

  it('does not count VMs already running at the target', () => {
    const plan3 = makePlan([{ name: 'a' }, { name: 'b' }]);
    const report = evaluatePreflight(
      plan3,
      makeInventory({ vms: [replica('a', { state: 'Running' }, { state: 'Replicating' }), replica('b')] }),
      { type: 'unplanned' },
    );
    expect(report.capacity?.slots.needed).toBe(1);
  });
});

describe('replication', () => {
  it('names a VM that needs a resync, once', () => {
    const inventory = makeInventory({
      vms: [
        replica('sql-01'),
        replica(
          'app-01',
          {},
          { state: 'WaitingForStartResynchronize', health: 'Critical', resyncRequired: true },
        ),
        replica('web-01'),
      ],
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'test' });
    expect(codes(report.blockers)).toEqual(['RESYNC_REQUIRED:app-01']);
    expect(report.blockers[0]?.path).toBe('spec.vms[1]');
  });

  it('blocks Critical health for drills and planned failovers', () => {
    const inventory = makeInventory({
      vms: [
        replica('sql-01', {}, { health: 'Critical', state: 'Error' }),
        replica('app-01'),
        replica('web-01'),
      ],
    });
    expect(codes(evaluatePreflight(threeTier, inventory, { type: 'test' }).blockers)).toEqual([
      'REPLICATION_CRITICAL:sql-01',
    ]);
  });

  it('lets an unplanned failover go on when the source site is lost (Critical is then expected)', () => {
    const inventory = makeInventory({
      vms: [
        replica('sql-01', {}, { health: 'Critical', state: 'Error' }),
        replica('app-01'),
        replica('web-01'),
      ],
      from: { ok: false, site: 'dc-east', error: { code: 'SITE_UNREACHABLE', message: 'dc-east is down' } },
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned' });
    expect(report.blockers).toEqual([]);
    expect(codes(report.warnings)).toEqual(['SOURCE_UNREACHABLE', 'REPLICATION_CRITICAL_SOURCE_LOST:sql-01']);
    const planned = evaluatePreflight(threeTier, inventory, { type: 'planned' });
    expect(codes(planned.blockers)).toEqual(['SOURCE_UNREACHABLE', 'REPLICATION_CRITICAL:sql-01']);
  });

  // Regression (issue 11, drctl up at 50×): the vault's copy of the target, read by its agent a
  // few seconds before (minutes of simulated time), was judged against the newest site's clock,
  // and a planned failover was blocked as REPLICATION_BEHIND while replication flowed.
  it('judges replication as of when the target was read, not by the age of a copy of it', () => {
    // 30-s cycles (a limit of 2 min), the last one 4 min before now.
    const last = {
      frequencySec: 30 as const,
      lastReplicationTime: new Date(NOW.getTime() - 240_000).toISOString(),
    };
    const readAgo = (ms: number) => {
      const inventory = makeInventory({
        vms: [replica('sql-01', {}, last), replica('app-01', {}, last), replica('web-01', {}, last)],
      });
      if (inventory.to.ok)
        inventory.to.asOf = {
          site: 'dc-west',
          asOf: new Date(NOW.getTime() - ms).toISOString(),
          ageMs: 5_000,
          source: 'vault',
        };
      return evaluatePreflight(threeTier, inventory, { type: 'planned' });
    };
    // Read 10 s after the last cycle (3m50s ago): flowing as far as anyone knows.
    expect(readAgo(230_000).blockers).toEqual([]);
    // Read just now, 4 min after the last cycle: not flowing.
    expect(codes(readAgo(0).blockers)).toEqual([
      'REPLICATION_BEHIND:sql-01',
      'REPLICATION_BEHIND:app-01',
      'REPLICATION_BEHIND:web-01',
    ]);
  });

  it('warns on Warning health', () => {
    const inventory = makeInventory({
      vms: [replica('sql-01', {}, { health: 'Warning' }), replica('app-01'), replica('web-01')],
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'test' });
    expect(report.ok).toBe(true);
    expect(codes(report.warnings)).toEqual(['REPLICATION_WARNING:sql-01']);
  });

  it('blocks a VM that is missing, replicates elsewhere, or sits on a host that is down', () => {
    const inventory = makeInventory({
      vms: [replica('app-01', {}, { replicaSite: 'dc-north' }), replica('web-01', { host: 'w2' })],
      hosts: [host('w1'), host('w2', { powered: false })],
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned' });
    expect(codes(report.blockers)).toEqual([
      'VM_NOT_FOUND:sql-01',
      'NOT_REPLICATING_TO_TARGET:app-01',
      'HOST_DOWN:web-01',
    ]);
  });

  it('names a same-named VM at the target that is not a replica as not replicating, not as failed over', () => {
    const inventory = makeInventory({
      vms: [replica('sql-01', { state: 'Running', replication: null }), replica('app-01'), replica('web-01')],
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned' });
    expect(codes(report.blockers)).toEqual(['NOT_REPLICATING_TO_TARGET:sql-01']);
    expect(report.blockers[0]?.message).toContain('replication is not enabled');
  });

  it('on failback, names a VM that never left home', () => {
    const home = (name: string) =>
      replica(name, { site: 'dc-east', state: 'Running' }, { mode: 'Primary', primarySite: 'dc-east' });
    const inventory = makeInventory({ vms: [home('sql-01'), home('app-01'), home('web-01')] });
    inventory.to = { ...inventory.to, site: 'dc-east' } as typeof inventory.to;
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned', direction: 'failback' });
    expect(codes(report.blockers)).toEqual([
      'ALREADY_FAILED_OVER:sql-01',
      'ALREADY_FAILED_OVER:app-01',
      'ALREADY_FAILED_OVER:web-01',
    ]);
    expect(report.blockers[0]?.hint).toContain('home site');
  });

  it("blocks a drill while the previous drill's test VM still exists", () => {
    const inventory = makeInventory({
      vms: [...replicas(), replica('web-01 - Test', { isTest: true, state: 'Running', replication: null })],
      hosts: hosts(),
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'test' });
    expect(codes(report.blockers)).toEqual(['TEST_VM_EXISTS:web-01']);
  });

  it('blocks the whole run when the target site cannot be read', () => {
    const inventory = makeInventory({ vms: [] });
    inventory.to = { ok: false, site: 'dc-west', error: { code: 'SITE_UNREACHABLE', message: 'no route' } };
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned' });
    expect(codes(report.blockers)).toEqual(['TARGET_UNREACHABLE']);
  });
});

describe('a VM already failed over', () => {
  const record = {
    plan: 'crm',
    execution: 'exec-42',
    site: 'dc-west',
    direction: 'forward' as const,
    at: '2026-01-01T10:00:00Z',
  };

  it('by another plan, per the failed-over record, names that plan and execution', () => {
    const inventory = makeInventory({ vms: replicas(), hosts: hosts(), failedOver: { 'app-01': record } });
    const report = evaluatePreflight(threeTier, inventory, { type: 'planned' });
    expect(codes(report.blockers)).toEqual(['ALREADY_FAILED_OVER:app-01']);
    expect(report.blockers[0]?.message).toContain("another plan, 'crm' (execution exec-42");
  });

  it('per the simulator (the replica is already the VM), once, with the record when there is one', () => {
    const inventory = makeInventory({
      vms: [
        replica('sql-01', { state: 'Running' }, { state: 'FailedOverWaitingCompletion' }),
        replica('app-01'),
        replica('web-01'),
      ],
      failedOver: { 'sql-01': record },
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'unplanned' });
    expect(codes(report.blockers)).toEqual(['ALREADY_FAILED_OVER:sql-01']);
    expect(report.blockers[0]?.message).toContain("by plan 'crm'");
  });

  it('is expected on the failback of the same plan', () => {
    const back = (name: string) =>
      replica(name, { site: 'dc-east' }, { primarySite: 'dc-west', replicaSite: 'dc-east' });
    const inventory = makeInventory({
      vms: [back('sql-01'), back('app-01'), back('web-01')],
      failedOver: { 'sql-01': { ...record, plan: 'erp' } },
    });
    inventory.to = { ...inventory.to, site: 'dc-east' } as typeof inventory.to;
    const report = evaluatePreflight(threeTier, inventory, { type: 'planned', direction: 'failback' });
    // planned failback reads the source too; here it was not given, so only the replica side is judged
    expect(report.blockers).toEqual([]);
    expect(report.toSite).toBe('dc-east');
  });
});

describe('networks', () => {
  it('blocks a failover network missing at the target, located at the mapping', () => {
    const plan = makePlan([{ name: 'web-01', network: { failover: { network: 'dmz-west' } } }]);
    const report = evaluatePreflight(plan, makeInventory({ vms: [replica('web-01')] }), {
      type: 'unplanned',
    });
    expect(report.blockers.map((b) => [b.code, b.path])).toEqual([
      ['NETWORK_MISSING', 'spec.vms[0].network.failover'],
    ]);
  });

  it('blocks a drill on a test network that is missing or not isolated, and only warns about the failover network', () => {
    const plan = makePlan([
      { name: 'a', network: { test: { network: 'prod-west' } } },
      { name: 'b', network: { test: { network: 'nowhere' }, failover: { network: 'gone' } } },
      { name: 'c' },
    ]);
    const report = evaluatePreflight(
      plan,
      makeInventory({ vms: [replica('a'), replica('b'), replica('c')] }),
      { type: 'test' },
    );
    expect(report.blockers.map((b) => [b.code, b.path])).toEqual([
      ['TEST_NETWORK_NOT_ISOLATED', 'spec.vms[0].network.test'],
      ['NETWORK_MISSING', 'spec.vms[1].network.test'],
    ]);
    expect(codes(report.warnings)).toEqual(['NETWORK_MISSING:b', 'TEST_NETWORK_UNSET:c']);
  });
});

describe('recovery points and the RPO target', () => {
  const plan = makePlan([{ name: 'a' }, { name: 'b', recoveryPoint: { kind: 'latestAppConsistent' } }], {
    targets: { rpoMs: 15 * 60_000 },
  });

  it('blocks a point older than the RPO, and a choice no point meets, each located', () => {
    const inventory = makeInventory({
      vms: [replica('a'), replica('b')],
      points: { a: [latestPoint('a', 20 * 60_000)], b: [latestPoint('b')] },
    });
    const report = evaluatePreflight(plan, inventory, { type: 'unplanned' });
    expect(report.blockers.map((b) => [b.code, b.vm, b.path])).toEqual([
      ['RPO_NOT_MET', 'a', 'spec.targets.rpo'],
      ['NO_RECOVERY_POINT', 'b', 'spec.vms[1].recoveryPoint'],
    ]);
    // No read of the source here: the loss runs to the replica's last replication (1 min ago), at least.
    expect(report.blockers[0]?.message).toContain('would lose at least 19m of writes');
  });

  it('does not hold a planned failover to the RPO (it sends every pending write first)', () => {
    const inventory = makeInventory({
      vms: [replica('a'), replica('b')],
      points: {
        a: [latestPoint('a', 20 * 60_000)],
        b: [{ id: 'p1', kind: 'appConsistent', time: NOW.toISOString() }],
      },
    });
    expect(evaluatePreflight(plan, inventory, { type: 'planned' }).ok).toBe(true);
    const drill = evaluatePreflight(plan, inventory, { type: 'test', rpoPolicy: 'warn' });
    expect(drill.ok).toBe(true);
    expect(codes(drill.warnings.filter((w) => w.code === 'RPO_NOT_MET'))).toEqual(['RPO_NOT_MET:a']);
  });

  it('resolves a run-time `at` choice to the newest point at or before it, exempt from the RPO; it wins over a VM override, as in the engine', () => {
    const points = [
      latestPoint('a', 0),
      { id: 'h2', kind: 'standard' as const, time: '2026-01-01T11:00:00.000Z' },
      { id: 'h1', kind: 'appConsistent' as const, time: '2026-01-01T10:00:00.000Z' },
    ];
    const inventory = makeInventory({ vms: [replica('a'), replica('b')], points: { a: points, b: points } });
    const report = evaluatePreflight(plan, inventory, {
      type: 'unplanned',
      recoveryPoint: { kind: 'at', at: '2026-01-01T10:30:00Z' },
    });
    expect(report.placements.map((p) => p.recoveryPoint?.id)).toEqual(['h1', 'h1']);
    // the engine's job data takes the run-time choice before the VM's own (b: latestAppConsistent)
    expect(report.placements[1]?.choice).toEqual({ kind: 'at', at: '2026-01-01T10:30:00Z' });
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([]);
    // without a run-time choice, b's own latestAppConsistent applies: its 2 h old point beyond the
    // RPO is a warning (the VSS schedule sets its age), not a blocker
    const own = evaluatePreflight(plan, inventory, { type: 'unplanned' });
    expect(own.placements.map((p) => p.recoveryPoint?.id)).toEqual([points[0]?.id, 'h1']);
    expect(codes(own.warnings)).toEqual(['RPO_NOT_MET:b']);
  });

  it('a planned failover takes latest for every VM, whatever the choices (as the failover handler does)', () => {
    const points = [
      latestPoint('b', 60_000),
      { id: 'h1', kind: 'appConsistent' as const, time: '2026-01-01T10:00:00.000Z' },
    ];
    const inventory = makeInventory({ vms: [replica('a'), replica('b')], points: { a: points, b: points } });
    const report = evaluatePreflight(plan, inventory, { type: 'planned' });
    expect(
      report.placements.map((p) => [p.choice.kind, p.recoveryPoint?.kind, p.recoveryPoint?.approximate]),
    ).toEqual([
      ['latest', 'latest', true],
      ['latest', 'latest', true],
    ]);
  });
});

describe('locks', () => {
  const holder = { execution: 'exec-7', plan: 'crm', operation: 'test', since: '2026-01-01T11:00:00Z' };

  it('blocks a VM locked by another execution, naming it', () => {
    const report = evaluatePreflight(
      threeTier,
      makeInventory({ vms: replicas(), hosts: hosts(), locks: { 'web-01': holder } }),
      {
        type: 'test',
      },
    );
    expect(codes(report.blockers)).toEqual(['VM_LOCKED:web-01']);
    expect(report.blockers[0]?.message).toContain("exec-7 (plan 'crm', test since");
  });

  it('blocks a plan another execution runs, but not the resumed execution itself', () => {
    const inventory = makeInventory({
      vms: replicas(),
      hosts: hosts(),
      planLock: { ...holder, plan: 'erp' },
      locks: { 'sql-01': { ...holder, plan: 'erp' } },
    });
    expect(codes(evaluatePreflight(threeTier, inventory, { type: 'test' }).blockers)).toEqual([
      'PLAN_LOCKED',
      'VM_LOCKED:sql-01',
    ]);
    expect(evaluatePreflight(threeTier, inventory, { type: 'test', execution: 'exec-7' }).ok).toBe(true);
  });
});

describe('part of a plan', () => {
  it('passes when the dependency outside the selection already runs at the target', () => {
    const inventory = makeInventory({
      vms: [
        replica('sql-01', { state: 'Running' }, { state: 'FailedOver' }),
        replica('app-01'),
        replica('web-01'),
      ],
    });
    const report = evaluatePreflight(threeTier, inventory, {
      type: 'unplanned',
      selection: { vms: ['app-01', 'web-01'] },
    });
    expect(report.selected).toEqual(['app-01', 'web-01']);
    expect(report.blockers).toEqual([]);
  });

  it('blocks when the dependency outside the selection is not running, at the dependsOn entry', () => {
    const report = evaluatePreflight(threeTier, makeInventory({ vms: replicas(), hosts: hosts() }), {
      type: 'unplanned',
      selection: { vms: ['web-01'] },
    });
    expect(report.blockers.map((b) => [b.code, b.vm, b.path, b.details?.dependency])).toEqual([
      ['DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', 'web-01', 'spec.vms[2].dependsOn[0]', 'app-01'],
    ]);
  });

  it("for a drill, wants the dependency's test VM running", () => {
    const inventory = makeInventory({
      vms: [...replicas(), replica('app-01 - Test', { isTest: true, state: 'Running', replication: null })],
      hosts: hosts(),
    });
    const report = evaluatePreflight(threeTier, inventory, { type: 'test', selection: { vms: ['web-01'] } });
    expect(report.blockers).toEqual([]);
  });

  it('fills line and column when given a locator', () => {
    const report = evaluatePreflight(threeTier, makeInventory({ vms: replicas(), hosts: hosts() }), {
      type: 'unplanned',
      selection: { vms: ['web-01'] },
      locate: (path) => (path === 'spec.vms[2].dependsOn[0]' ? { line: 14, column: 18 } : undefined),
    });
    expect(report.blockers[0]).toMatchObject({ line: 14, column: 18 });
  });
});

describe('blockers the operator accepts', () => {
  const plan = makePlan([{ name: 'a' }, { name: 'b' }], { targets: { rpoMs: 15 * 60_000 } });
  const stale = () =>
    makeInventory({
      vms: [replica('a', {}, { health: 'Critical', state: 'Error' }), replica('b')],
      points: { a: [latestPoint('a', 3 * 3_600_000)], b: [latestPoint('b', 20 * 60_000)] },
      locks: { b: { execution: 'e9', plan: 'crm', since: '' } },
    });

  it('become warnings that say so, while the others still block', () => {
    const report = evaluatePreflight(plan, stale(), {
      type: 'unplanned',
      accept: ['REPLICATION_CRITICAL', 'RPO_NOT_MET'],
    });
    expect(codes(report.blockers)).toEqual(['VM_LOCKED:b']);
    expect(codes(report.warnings)).toEqual(['REPLICATION_CRITICAL:a', 'RPO_NOT_MET:a', 'RPO_NOT_MET:b']);
    expect(report.warnings[0]?.message).toMatch(/^accepted by the operator: /);
    expect(report.warnings[0]?.details).toMatchObject({ accepted: true });
  });

  it('may never include a lock, a failed-over VM or a drill touching production', () => {
    for (const code of [
      'VM_LOCKED',
      'PLAN_LOCKED',
      'ALREADY_FAILED_OVER',
      'TEST_NETWORK_NOT_ISOLATED',
      'NOPE',
    ]) {
      expect(() => evaluatePreflight(plan, stale(), { type: 'unplanned', accept: [code] })).toThrow(
        InputError,
      );
    }
  });

  it('accept the site limit but never a host its replicas do not fit on', () => {
    const p = makePlan([{ name: 'a' }, { name: 'b' }]);
    const inventory = makeInventory({
      vms: [replica('a', { host: 'small' }), replica('b', { host: 'small' })],
      hosts: [host('small', { vmSlots: 1 })],
    });
    const report = evaluatePreflight(p, inventory, { type: 'unplanned', accept: ['INSUFFICIENT_CAPACITY'] });
    expect(report.blockers.map((b) => [b.code, b.host])).toEqual([['INSUFFICIENT_CAPACITY', 'small']]);
    expect(codes(report.warnings)).toEqual(['INSUFFICIENT_CAPACITY']);
  });
});
