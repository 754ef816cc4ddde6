import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import {
  formatPreflightReport,
  type PreflightInput,
  type PreflightReport,
  runPreflight,
} from '../../engine/preflight/index.ts';
import { type World, worldForPlan } from '../../simulators/index.ts';
import { loadExample } from '../engine/support.ts';
import { type Reporting, reportSite, startVault, type Vault } from './inventory-support.ts';

let plan: RecoveryPlan;
beforeAll(async () => {
  ({ plan } = await loadExample('plans/examples/three-tier.yaml'));
});

let vault: Vault | undefined;
let world: World | undefined;
const reporters: Reporting[] = [];
afterEach(async () => {
  for (const r of reporters.splice(0)) await r.reporter.close();
  await vault?.close();
  world?.close();
});

async function reported(): Promise<{ vault: Vault; world: World; east: Reporting; west: Reporting }> {
  vault = await startVault();
  world = worldForPlan(plan, { clock: { mode: 'manual' } });
  world.advance(7 * 60_000);
  const east = reportSite(vault, world, plan.source);
  const west = reportSite(vault, world, plan.target);
  reporters.push(east, west);
  await Promise.all([east.reporter.refreshNow(), west.reporter.refreshNow()]);
  return { vault, world, east, west };
}

/** What differs by nature: timings, and the age of the copy (absent when read from the hosts). */
function comparable({
  stats: { gatherMs: _g, evaluateMs: _e, ...stats },
  dataAsOf: _d,
  ...rest
}: PreflightReport) {
  return { ...rest, stats };
}

describe('pre-flight on the control plane, from the vault', () => {
  for (const type of ['test', 'planned'] as const) {
    for (const points of ['needed', 'all'] as const) {
      it(`gives the report the hosts give for a ${type === 'test' ? 'drill' : 'planned failover'} (points: ${points})`, async () => {
        const { vault, world } = await reported();
        const input: Omit<PreflightInput, 'api'> = { plan, type, points, estimate: false };
        const direct = await runPreflight({ ...input, api: world.api });
        const fromVault = await runPreflight({ ...input, api: vault.readApi() });
        expect(comparable(fromVault)).toEqual(comparable(direct));
        expect(direct.dataAsOf).toBeUndefined();
        const sites = type === 'test' ? [plan.target] : [plan.target, plan.source];
        expect(fromVault.dataAsOf).toEqual(
          sites.map((site) => ({ site, asOf: world.nowIso(), ageMs: 0, source: 'vault' })),
        );
        expect(formatPreflightReport(fromVault)).toContain(`data of ${plan.target} as of ${world.nowIso()}`);
      });
    }
  }

  it('gives the same blockers as the hosts when a replica host is down', async () => {
    const { vault, world, west } = await reported();
    const host = (await world.api.getVM(plan.target, 'app-01')).host;
    world.fault({ kind: 'host-crash', site: plan.target, host });
    await west.reporter.refreshNow();
    const direct = await runPreflight({ plan, type: 'test', api: world.api, estimate: false });
    const fromVault = await runPreflight({ plan, type: 'test', api: vault.readApi(), estimate: false });
    expect(direct.ok).toBe(false);
    expect(comparable(fromVault)).toEqual(comparable(direct));
  });

  describe('when the site has not reported for longer than a cycle', () => {
    it('asks its agent for a refresh and, when none answers, reports the site with the age of the data', async () => {
      const { vault, world } = await reported();
      for (const r of reporters.splice(0)) await r.reporter.close(); // the agents are gone
      const asOf = world.nowIso();
      vault.wall.ms += 10 * 60_000;
      const report = await runPreflight({
        plan,
        type: 'test',
        api: vault.readApi({ refreshWaitMs: 300 }),
        estimate: false,
      });
      expect(report.ok).toBe(false);
      const blocker = report.blockers.find((b) => b.code === 'TARGET_UNREACHABLE');
      expect(blocker?.message).toBe(
        `target site '${plan.target}' cannot be read (SITE_UNREACHABLE: the agent of site '${plan.target}' did not answer a refresh within 300 ms; the vault's inventory of it is 10m old (hosts' time ${asOf}))`,
      );
      expect(report.dataAsOf).toEqual([{ site: plan.target, asOf, ageMs: 10 * 60_000, source: 'vault' }]);
      // The request stands for the agent to pick up.
      expect(await vault.request('GET', `/api/v1/agents/${plan.target}/inventory/refresh`)).toMatchObject({
        refresh: true,
      });
    });

    it('reads the refreshed data when the agent answers the request', async () => {
      const { vault, world, west } = await reported();
      world.advance(60_000);
      vault.wall.ms += 10 * 60_000;
      // The agent's side: a long poll for refresh requests, answered by a sweep.
      const follower = (async () => {
        const asked = await vault.request<{ refresh: boolean }>(
          'GET',
          `/api/v1/agents/${plan.target}/inventory/refresh`,
          { query: { waitMs: 5_000 } },
        );
        if (asked.refresh) await west.reporter.refreshNow();
        return asked.refresh;
      })();
      const report = await runPreflight({
        plan,
        type: 'test',
        api: vault.readApi({ refreshWaitMs: 10_000 }),
        estimate: false,
      });
      expect(await follower).toBe(true);
      expect(report.blockers.map((b) => b.code)).not.toContain('TARGET_UNREACHABLE');
      expect(report.dataAsOf).toEqual([
        { site: plan.target, asOf: world.nowIso(), ageMs: 0, source: 'vault' },
      ]);
      expect(comparable(report)).toEqual(
        comparable(await runPreflight({ plan, type: 'test', api: world.api, estimate: false })),
      );
      expect(await vault.request('GET', `/api/v1/agents/${plan.target}/inventory/refresh`)).toEqual({
        refresh: false,
      });
    });
  });
});

describe('GET /api/v1/inventory', () => {
  it("shows each VM's replication state, health, RPO and recovery points, and the site's age", async () => {
    const { vault, world } = await reported();
    const asOf = Date.parse(world.nowIso());
    vault.wall.ms += 20_000;
    const view = await vault.request<{
      sites: { site: string; ageMs: number; asOf: string; vms: number; complete: boolean }[];
      vms: {
        name: string;
        replication: { health: string; state: string; rpoMs: number; lastReplicationTime: string } | null;
        recoveryPoints: { count: number; newest?: string };
      }[];
    }>('GET', '/api/v1/inventory', { query: { site: plan.target } });
    expect(view.sites).toEqual([
      expect.objectContaining({ site: plan.target, ageMs: 20_000, complete: true, vms: plan.vms.length }),
    ]);
    expect(view.vms.map((vm) => vm.name)).toEqual(plan.vms.map((vm) => vm.name).sort());
    for (const row of view.vms) {
      const truth = await world.api.getVM(plan.target, row.name);
      const points = await world.api.getRecoveryPoints(plan.target, row.name);
      const last = Date.parse(truth.replication?.lastReplicationTime ?? '');
      expect(row.replication).toMatchObject({
        health: truth.replication?.health,
        state: truth.replication?.state,
        rpoMs: asOf - last + 20_000,
      });
      expect(row.recoveryPoints).toEqual({ count: points.length, newest: points[0]?.time });
    }
    const one = await vault.request<{ vms: unknown[] }>('GET', '/api/v1/inventory', {
      query: { vm: 'sql-01' },
    });
    expect(one.vms).toHaveLength(2); // the primary at the source, the replica at the target
  });
});
