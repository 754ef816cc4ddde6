/**
 * Issue 11: a drill, a planned and an unplanned failover through `drctl up`'s processes (the
 * control plane and one agent a site), driven by the CLI with DR_SERVER alone and judged by
 * `drctl sim truth`: no split-brain, each VM running exactly once where expected, and data loss
 * within what the engine claims.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import type { WorldTruth } from '../../simulators/index.ts';
import { judgeClaim, ledgerFailover } from '../support/judge.ts';
import { useTempDirs } from '../support/temp.ts';
import { type Cloud, expectFailedOverOnce, SOURCE, startCloud, TARGET, vmsOf } from './support.ts';

const temp = useTempDirs();
/** for-plan worlds: every VM replicates every 30 s and writes 10 times a second. */
const JUDGE = { intervalMs: 30_000, writeGapMs: 100 };

/** Each VM's claim judged by the ledger's record of the same failover. */
function expectClaimsHold(
  view: ExecutionView,
  truth: WorldTruth,
  plan: string,
  kind: 'planned' | 'unplanned',
) {
  expect(view.dataLoss?.map((c) => c.vm)).toEqual(vmsOf(plan));
  for (const claim of view.dataLoss ?? []) {
    const record = ledgerFailover(truth, claim.vm, kind);
    expect(record, claim.vm).toBeDefined();
    if (record !== undefined) expect(judgeClaim(claim, record, JUDGE), claim.vm).toEqual([]);
  }
}

async function testCopiesAtTarget(cloud: Cloud, plan: string): Promise<string[]> {
  const vms = await cloud.sim.listVMs(TARGET);
  return vms
    .filter(
      (vm) => vm.isTest && vmsOf(plan).some((name) => vm.name.startsWith(name)) && vm.state === 'Running',
    )
    .map((vm) => vm.name)
    .sort();
}

describe.skipIf(process.platform !== 'linux')(
  'runs through drctl up, judged by the ledger',
  {
    timeout: 120_000,
  },
  () => {
    let cloud: Cloud;
    beforeAll(async () => {
      cloud = await startCloud(temp('cloud-runs-'), { plans: ['a', 'b'] });
    }, 120_000);
    afterAll(async () => {
      await cloud?.close();
    });

    it('a drill brings a test copy of each VM up at the target while production runs at the source alone; cleanup removes the copies', async () => {
      const drill = await cloud.cliJson<ExecutionView>(['drill', cloud.planFile('a')]);
      expect(drill.status).toBe('awaiting-cleanup');
      expect(drill.vms).toEqual({ 'a-db': 'ready', 'a-app': 'ready' });
      expect((await testCopiesAtTarget(cloud, 'a')).length).toBe(2);
      const truth = await cloud.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of vmsOf('a')) {
        // Production never stopped: primary at the source, and nowhere else.
        expect(truth.vms[vm]?.primarySites, vm).toEqual([SOURCE]);
        expect(
          truth.vms[vm]?.timeline.map((t) => t.site),
          vm,
        ).toEqual([SOURCE]);
        expect(
          truth.failovers.filter((f) => f.vm === vm).map((f) => `${f.kind} ${f.toSite}`),
          vm,
        ).toEqual([`test ${TARGET}`]);
      }
      expect(truth.mutations['a-db']?.[SOURCE]).toBeUndefined();

      const cleanup = await cloud.cliJson<ExecutionView>(['cleanup', drill.id]);
      expect(cleanup.status).toBe('completed');
      expect(await testCopiesAtTarget(cloud, 'a')).toEqual([]);
    });

    it('a planned failover moves each VM to the target, running there alone, and loses nothing, as it claims', async () => {
      const run = await cloud.cliJson<ExecutionView>(['failover', cloud.planFile('a'), '--planned']);
      expect(run.status).toBe('completed');
      expect(run.dataLoss?.every((c) => c.bound === 'exact' && c.windowMs === 0)).toBe(true);
      // `drctl status` through the control plane reads the same run back.
      const status = await cloud.cliJson<ExecutionView>(['status', run.id]);
      expect(status).toMatchObject({
        id: run.id,
        status: 'completed',
        vms: { 'a-db': 'ready', 'a-app': 'ready' },
      });
      const truth = await cloud.truth();
      expectFailedOverOnce(truth, 'a', 'planned');
      for (const vm of vmsOf('a')) expect(ledgerFailover(truth, vm, 'planned')?.lostWrites, vm).toBe(0);
      expectClaimsHold(run, truth, 'a', 'planned');
    });

    it('an unplanned failover, the source still up, fences the old primaries: each VM runs at the target alone, its loss within the claim', async () => {
      const run = await cloud.cliJson<ExecutionView>(['failover', cloud.planFile('b'), '--unplanned']);
      expect(run.status).toBe('completed');
      const truth = await cloud.truth();
      expectFailedOverOnce(truth, 'b', 'unplanned');
      for (const vm of vmsOf('b')) {
        // The old primary stopped: its last interval at the source is closed.
        expect(truth.vms[vm]?.timeline.find((t) => t.site === SOURCE)?.to, vm).not.toBeNull();
        expect(ledgerFailover(truth, vm, 'unplanned')?.writesAfterFailover, vm).toBe(0);
      }
      expectClaimsHold(run, truth, 'b', 'unplanned');
      // Plan a, failed over before, is untouched by b's run.
      expectFailedOverOnce(truth, 'a', 'planned');
    });
  },
);
