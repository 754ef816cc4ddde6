import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { VmView } from '../../engine/hosts/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
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

/** A VmView without what moves by itself while nothing happens (uptime). */
const still = ({ uptimeSec: _uptime, ...view }: VmView) => view;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

async function setUp(): Promise<{ vault: Vault; world: World; west: Reporting }> {
  vault = await startVault();
  world = worldForPlan(plan, { clock: { mode: 'manual' } });
  // Away from an hour boundary: the next cycle takes no hourly point.
  world.advance(5 * 60_000);
  const west = reportSite(vault, world, plan.target);
  reporters.push(west);
  await west.reporter.refreshNow();
  return { vault, world, west };
}

describe('inventory from a site agent to the vault', () => {
  it("feeds each VM's RPO and replication health into the vault's 24-hour history", async () => {
    vault = await startVault({}, { history: true });
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    world.advance(5 * 60_000);
    const west = reportSite(vault, world, plan.target);
    reporters.push(west);
    await west.reporter.refreshNow();
    const history = vault.ctx.history;
    if (history === undefined) throw new Error('no history');
    const [sql] = await history.readMany(['sql-01'], { now: vault.wall.ms });
    const replica = (await world.api.listVMs(plan.target)).find((vm) => vm.name === 'sql-01');
    expect(sql?.site).toBe(plan.target);
    expect(sql?.points.at(-1)?.health).toBe(replica?.replication?.health);
    expect(sql?.points.at(-1)?.rpoSec).not.toBeNull();
    expect(sql?.points.at(-2)?.health).toBeNull();
  });

  it('sends a full first, then only what changed, and the vault serves what the hosts say', async () => {
    const { vault, world, west } = await setUp();
    const api = vault.readApi();
    expect(west.sent[0]).toMatchObject({ kind: 'full', part: 0, parts: 1, seq: 1 });
    expect(west.sent.filter((b) => b.kind === 'full')).toHaveLength(1);
    expect((await api.listVMs(plan.target)).map(still).sort(byName)).toEqual(
      (await world.api.listVMs(plan.target)).map(still).sort(byName),
    );
    expect(await api.listHosts(plan.target)).toEqual(await world.api.listHosts(plan.target));
    expect(await api.listNetworks(plan.target)).toEqual(await world.api.listNetworks(plan.target));
    expect(await api.getRecoveryPoints(plan.target, 'sql-01')).toEqual(
      await world.api.getRecoveryPoints(plan.target, 'sql-01'),
    );

    // Nothing happened on the hosts: an empty changes batch, which only moves "as of" on.
    await west.reporter.refreshNow();
    const quiet = west.sent.at(-1);
    expect(quiet).toMatchObject({ kind: 'changes', seq: 2, vms: [], removed: [] });
    expect(quiet).not.toHaveProperty('hosts');

    // A replication cycle: every replica's last replication moves; the hourly points do not.
    world.advance(30_000);
    await west.reporter.refreshNow();
    const cycle = west.sent.at(-1);
    expect(cycle?.kind).toBe('changes');
    expect(cycle?.vms.map((vm) => vm.name).sort()).toEqual(plan.vms.map((vm) => vm.name).sort());
    expect(cycle?.vms.every((vm) => vm.points === undefined)).toBe(true);
    for (const vm of plan.vms) {
      expect((await vault.readApi().getRecoveryPoints(plan.target, vm.name))[0]).toEqual(
        (await world.api.getRecoveryPoints(plan.target, vm.name))[0],
      );
    }
    const stored = (await vault.readApi().listVMs(plan.target)).map(still).sort(byName);
    expect(stored).toEqual((await world.api.listVMs(plan.target)).map(still).sort(byName));
  });

  it('removes a VM whose host went down, and sends the hosts when they change', async () => {
    const { vault, world, west } = await setUp();
    const host = (await world.api.getVM(plan.target, 'web-01')).host;
    world.fault({ kind: 'host-crash', site: plan.target, host });
    await west.reporter.refreshNow();
    const batch = west.sent.at(-1);
    if (batch?.kind !== 'changes') throw new Error(`expected a changes batch, got ${batch?.kind}`);
    expect(batch.removed).toContain('web-01');
    expect(batch.hosts?.find((h) => h.name === host)?.powered).toBe(false);
    const names = (await vault.readApi().listVMs(plan.target)).map((vm) => vm.name);
    expect(names).not.toContain('web-01');
    expect(names.sort()).toEqual((await world.api.listVMs(plan.target)).map((vm) => vm.name).sort());
  });

  it('sends every VM at least once per cycle, changed or not', async () => {
    vault = await startVault();
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const agentClock = { ms: 0 };
    const west = reportSite(vault, world, plan.target, { cycleMs: 30_000, clock: () => agentClock.ms });
    reporters.push(west);
    await west.reporter.refreshNow();
    agentClock.ms = 10_000;
    await west.reporter.refreshNow();
    expect(west.sent.at(-1)?.vms).toEqual([]);
    agentClock.ms = 30_000;
    await west.reporter.refreshNow();
    expect(
      west.sent
        .at(-1)
        ?.vms.map((vm) => vm.name)
        .sort(),
    ).toEqual((await world.api.listVMs(plan.target)).map((vm) => vm.name).sort());
  });

  it('splits a full into parts under the body cap and the vault swaps them in at the last part', async () => {
    vault = await startVault();
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const west = reportSite(vault, world, plan.target, { maxBatchBytes: 2_000 });
    reporters.push(west);
    await west.reporter.refreshNow();
    const parts = west.sent.filter((b) => b.kind === 'full');
    expect(parts.length).toBeGreaterThan(1);
    for (const body of parts) expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(2_000);
    expect(parts.map((b) => (b.kind === 'full' ? b.part : -1))).toEqual(parts.map((_, i) => i));
    expect((await vault.readApi().listVMs(plan.target)).length).toBe(
      (await world.api.listVMs(plan.target)).length,
    );
  });

  it('answers a vault that missed a batch with a full (409 INVENTORY_RESYNC)', async () => {
    const { vault, world, west } = await setUp();
    // The vault loses its copy (a flushed Redis): the next changes batch is refused, a full follows.
    await vault.ctx.redis.del(`${vault.ctx.prefix}:{inv:${plan.target}}:meta`);
    world.advance(30_000);
    await west.reporter.refreshNow();
    expect(west.sent.slice(-2).map((b) => b.kind)).toEqual(['changes', 'full']);
    expect((await vault.readApi().listVMs(plan.target)).length).toBe(
      (await world.api.listVMs(plan.target)).length,
    );
    const metrics = (await vault.app.inject('/metrics')).body;
    expect(metrics).toMatch(
      /drorch_requests_refused_total\{route="\/api\/v1\/agents\/:site\/inventory",code="INVENTORY_RESYNC"\} 1/,
    );
  });

  it('never sends what the driver returns beyond the declared fields', async () => {
    vault = await startVault();
    world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const w = world;
    const leaky = {
      ...w.api,
      listVMs: async (site: string) =>
        (await w.api.listVMs(site)).map((vm) => ({ ...vm, diskContent: 'SECRET', notes: 'x' })),
    };
    const sent: unknown[] = [];
    const { startInventoryReporter } = await import('../../engine/agent/inventory.ts');
    const reporter = startInventoryReporter({
      driver: leaky,
      site: plan.target,
      log: (await import('./inventory-support.ts')).silent,
      pollMs: 3_600_000,
      post: async (path, body) => {
        sent.push(body);
        return vault!.request('POST', path, { body, headers: await vault!.agentHeaders(plan.target) });
      },
    });
    await reporter.refreshNow();
    await reporter.close();
    expect(JSON.stringify(sent)).not.toContain('SECRET');
    expect(sent.length).toBeGreaterThan(0);
  });
});
