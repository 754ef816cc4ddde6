/**
 * Issue 11: dc-east gone, its agent and its hosts (the agent SIGKILLed under --no-restart, the
 * site powered off with `drctl sim fault`). The control plane keeps working through dc-west's
 * agent: `drctl status`, the sites and inventory reads (dc-east's heartbeat age growing, its last
 * inventory still there), and an unplanned failover of the plan, whose split-brain promise and
 * data-loss claims the ledger judges, also once dc-east returns: the plan was protected first
 * (automatic start Nothing), so its returning hosts start none of the old primaries. Without
 * that, they start them and run beside the replicas until the returning agent's fence sweep.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import { drctl } from '../cli/support.ts';
import { judgeClaim, ledgerFailover } from '../support/judge.ts';
import { useTempDirs } from '../support/temp.ts';
import {
  type Cloud,
  expectFailedOverOnce,
  SOURCE,
  startCloud,
  startOwnAgent,
  TARGET,
  until,
  vmsOf,
} from './support.ts';

const temp = useTempDirs();
const JUDGE = { intervalMs: 30_000, writeGapMs: 100 };

interface SiteView {
  site: string;
  live: boolean;
  heartbeatAgeMs?: number;
}
interface InventoryView {
  sites: Array<{ site: string; complete: boolean; ageMs: number; vms: number }>;
  vms: Array<{ site: string; name: string; isTest: boolean }>;
}

describe.skipIf(process.platform !== 'linux')(
  'when dc-east is gone, its agent and its hosts',
  {
    timeout: 180_000,
  },
  () => {
    let cloud: Cloud;
    const site = async (name: string): Promise<SiteView | undefined> =>
      (await cloud.get<{ sites: SiteView[] }>('/api/v1/sites')).sites.find((s) => s.site === name);

    beforeAll(async () => {
      cloud = await startCloud(temp('cloud-lost-'), { plans: ['a'], restart: false, fenceDeadline: '5s' });
      // Both sites' inventories are in the vault before the loss.
      await until('both inventories in the vault', async () => {
        const inventory = await cloud.get<InventoryView>('/api/v1/inventory');
        return inventory.sites.filter((s) => s.complete).length === 2;
      });
      // The primaries' automatic start off, so that a returning dc-east starts none of them. Through
      // Redis: `drctl protect` has no control-plane path yet (no --server / DR_SERVER).
      const protect = await drctl(
        ['protect', cloud.planFile('a'), '--automatic-start-action', 'Nothing', '--json'],
        {
          env: { REDIS_URL: cloud.line.redis, DR_SIM_URL: cloud.line.sim },
        },
      );
      expect(protect.code, `${protect.stdout}\n${protect.stderr}`).toBe(0);
      process.kill(cloud.pidOf(`agent-${SOURCE}`), 'SIGKILL');
      await cloud.waitForEvent((e) => e.event === 'exited' && e.name === `agent-${SOURCE}`);
      const power = await cloud.cli(['sim', 'fault', 'site-power', '--site', SOURCE, '--state', 'off']);
      expect(power.code, power.stderr).toBe(0);
    }, 180_000);
    afterAll(async () => {
      await cloud?.close();
    });

    it("reads still work: dc-east's heartbeat age grows and it is no longer live; its last inventory stays, dc-west's is fresh", async () => {
      const first = await site(SOURCE);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const second = await site(SOURCE);
      expect(second?.heartbeatAgeMs ?? 0).toBeGreaterThan(first?.heartbeatAgeMs ?? Number.POSITIVE_INFINITY);
      await until('dc-east no longer live', async () => (await site(SOURCE))?.live === false, 30_000);
      expect((await site(TARGET))?.live).toBe(true);

      const inventory = await cloud.get<InventoryView>('/api/v1/inventory');
      const east = inventory.sites.find((s) => s.site === SOURCE);
      const west = inventory.sites.find((s) => s.site === TARGET);
      expect(east?.vms).toBe(2);
      expect(west?.vms).toBe(2);
      expect(east?.ageMs ?? 0).toBeGreaterThan(west?.ageMs ?? Number.POSITIVE_INFINITY);
      expect(
        inventory.vms
          .filter((vm) => vm.site === SOURCE)
          .map((vm) => vm.name)
          .sort(),
      ).toEqual([...vmsOf('a')].sort());

      const status = await cloud.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
    });

    it('an unplanned failover runs through dc-west alone: each VM runs at dc-west only, its loss at least what it claims', async () => {
      const run = await cloud.cliJson<ExecutionView>(['failover', cloud.planFile('a'), '--unplanned']);
      expect(run.status).toBe('completed');
      expect(run.vms).toEqual({ 'a-db': 'ready', 'a-app': 'ready' });
      const plans = await cloud.get<{ plans: Array<{ name: string }> }>('/api/v1/plans');
      expect(plans.plans.map((p) => p.name)).toContain('a');

      const truth = await cloud.truth();
      expectFailedOverOnce(truth, 'a', 'unplanned');
      // No host of dc-east was called after it went dark (its agent was the only way to them):
      // protect's call, before the loss, is all.
      for (const vm of vmsOf('a'))
        expect(truth.mutations[vm]?.[SOURCE], vm).toEqual({ setVMAutomaticStartAction: 1 });
      expect(run.dataLoss?.map((c) => c.vm)).toEqual(vmsOf('a'));
      for (const claim of run.dataLoss ?? []) {
        // dc-east could not be seen off: the claim is a minimum, up to when it was last seen.
        expect(claim.bound, claim.vm).toBe('atLeast');
        const record = ledgerFailover(truth, claim.vm, 'unplanned');
        expect(record, claim.vm).toBeDefined();
        if (record !== undefined) expect(judgeClaim(claim, record, JUDGE), claim.vm).toEqual([]);
      }
    });

    it('dc-east back (powered on, its agent again): the protected old primaries stay off, no split-brain', async () => {
      const power = await cloud.cli(['sim', 'fault', 'site-power', '--site', SOURCE, '--state', 'on']);
      expect(power.code, power.stderr).toBe(0);
      const agent = startOwnAgent(
        cloud,
        SOURCE,
        cloud.line.api,
        join(cloud.line.logs, `own-agent-${SOURCE}.log`),
      );
      try {
        await agent.ready;
        await until('dc-east live again', async () => (await site(SOURCE))?.live === true, 30_000);
        // Its hosts have been back for minutes of simulated time, its fence sweep had its turn.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const truth = await cloud.truth();
        expect(truth.splitBrain).toEqual([]);
        for (const vm of vmsOf('a')) {
          expect(truth.vms[vm]?.primarySites, vm).toEqual([TARGET]);
          expect(truth.vms[vm]?.autoStarts, vm).toBe(0);
        }
      } finally {
        await agent.kill();
      }
    });
  },
);
