/**
 * A lost source site that comes back before its agent (issue 10, "operations that cannot make
 * things worse"): Hyper-V's automatic start action (StartIfRunning) starts the old primaries while
 * their VMs already run at the target. Before the fix, status said "0 of 4 fenced" and reprotect
 * overwrote what the old primaries wrote without a word. Now the returning agent's late fence
 * fences them and records a divergence per VM (how long it ran, from Get-VM's Uptime; what
 * reprotect would discard, from Measure-VMReplication), status and events show it and exit 1,
 * reprotect refuses without --discard-diverged and records the acknowledgement; and with the
 * automatic start action set to Nothing (`drctl protect`), the returning site starts nothing.
 * The simulator's ledger is the judge (split-brain intervals, writes per site, lost writes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { divergencesOf } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { timelineLine } from '../../engine/report/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { type EngineProcess, spawnDrctl } from './processes.ts';
import {
  actionFixtures,
  executionEvents,
  loadExample,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';
/** The world's replication interval (worldForPlan): the reported figures are judged within one. */
const INTERVAL_MS = 30_000;
const BYTES_PER_WRITE = 4096;
/** Simulated ms per real ms: slow enough that a few ms of process latency stay far below an interval. */
const SPEED = 200;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Setup {
  plan: RecoveryPlan;
  hash: string;
  world: World;
  engine: TestEngine;
  sim: SimServer;
  env: Record<string, string>;
  agentArgs: string[];
  close(): Promise<void>;
}

describe('a lost source site that returns before its agent', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  async function setup(): Promise<Setup> {
    const { plan: loaded, hash } = await loadExample(PLAN, fixtures.webhookUrl);
    const plan: RecoveryPlan = { ...loaded, actions: [], fencing: { deadlineMs: 2_000 } };
    const world = worldForPlan(plan, { clock: { mode: 'scaled', speed: SPEED }, warmupMs: 5 * 3_600_000 });
    // The source site's agent is a real `drctl worker` process (below); here only the target's.
    const engine = await startTestEngine(plan, { world, workerSites: [plan.target, 'control'] });
    const sim = await startSimServer(world.api);
    const env = { REDIS_URL: engine.redisUrl };
    const agentArgs = ['worker', '--site', plan.source, '--sim', sim.url, '--prefix', engine.prefix];
    return {
      plan,
      hash,
      world,
      engine,
      sim,
      env,
      agentArgs,
      close: async () => {
        await engine.close();
        await sim.close();
      },
    };
  }

  /** The source goes dark with its agent; the unplanned failover runs past its fencing deadline. */
  async function loseSourceAndFailOver(s: Setup): Promise<string> {
    const lost = spawnDrctl(s.agentArgs, s.env);
    await lost.ready;
    await lost.kill('SIGKILL');
    s.world.fault({ kind: 'site-power', site: s.plan.source, state: 'off' });
    const { id } = await s.engine.client.submit({
      type: 'unplanned',
      plan: s.plan,
      hash: s.hash,
      reason: 'east is gone',
      approveManual: true,
    });
    const view = await waitForStatus(s.engine.client, id, ['completed', 'failed'], 120_000);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    return id;
  }

  /** The site returns, its VMs run for five simulated minutes (and `meanwhile`), then its agent comes back. */
  async function sourceReturnsBeforeItsAgent(
    s: Setup,
    meanwhile: () => Promise<void> = async () => {},
  ): Promise<EngineProcess> {
    s.world.fault({ kind: 'site-power', site: s.plan.source, state: 'on' });
    const returned = Date.parse(await s.world.api.now());
    await until(
      'five simulated minutes',
      async () => Date.parse(await s.world.api.now()) - returned >= 300_000,
    );
    await meanwhile();
    const back = spawnDrctl(s.agentArgs, s.env);
    await back.ready;
    return back;
  }

  async function cli(s: Setup, args: string[]): Promise<{ code: number | null; out: string }> {
    const run = spawnDrctl([...args, '--prefix', s.engine.prefix], {
      ...s.env,
      DR_SIM_URL: s.sim.url,
    });
    const { code } = await run.exited;
    return { code, out: run.output() };
  }

  it('reports each VM that ran in two sites, exits 1, and reprotect discards nothing unasked', async () => {
    const s = await setup();
    let back: EngineProcess | undefined;
    try {
      const id = await loseSourceAndFailOver(s);
      const { plan, world, engine } = s;
      back = await sourceReturnsBeforeItsAgent(s, async () => {
        // Before the agent is back, reprotect's own look at the hosts finds them running: refused,
        // each recorded as not fenced, nothing changed on the hosts.
        const before = structuredClone(world.truth().mutations);
        const early = await cli(s, ['reprotect', PLAN]);
        expect(early.code, early.out).toBe(1);
        for (const vm of plan.vms)
          expect(early.out, vm.name).toMatch(new RegExp(`${vm.name} ran at ${plan.source} for .*NOT fenced`));
        expect(world.truth().mutations).toEqual(before);
        const seen = (await executionEvents(engine, id)).filter(
          (e) => e.type === 'diverged' && e.detectedBy === 'reprotect-check' && !e.fenced,
        );
        expect(seen).toHaveLength(plan.vms.length);
      });
      await until('the returned agent fenced each diverged VM', async () => {
        const events = await executionEvents(engine, id);
        const fenced = events.filter(
          (e) => e.type === 'diverged' && e.fenced && e.detectedBy !== 'reprotect-check',
        );
        return new Set(fenced.map((e) => e.type === 'diverged' && e.vm)).size === plan.vms.length;
      });
      // The old primaries are fenced: off, barred, under the failover's epoch.
      const epoch = (await engine.client.get(id)).epoch;
      for (const vm of plan.vms)
        expect(await world.api.getVM(plan.source, vm.name)).toMatchObject({
          state: 'Off',
          startBarred: true,
          epoch,
        });

      // The ledger judges what was reported, VM by VM.
      const events = await executionEvents(engine, id);
      const divergences = divergencesOf(events);
      const truth = world.truth();
      expect(divergences.map((d) => d.vm).sort()).toEqual(plan.vms.map((v) => v.name).sort());
      for (const d of divergences) {
        const split = truth.splitBrain.filter((b) => b.vm === d.vm);
        expect(split, d.vm).toHaveLength(1);
        const [interval] = split;
        if (interval === undefined || interval.to === null)
          throw new Error(`${d.vm}: split-brain still open`);
        const [episode] = d.episodes;
        expect(d.episodes, d.vm).toHaveLength(1);
        expect(episode, d.vm).toMatchObject({ site: plan.source, runsAt: plan.target, fenced: true });
        expect(
          Math.abs(Date.parse(episode?.ranFrom ?? '') - Date.parse(interval.from)),
          d.vm,
        ).toBeLessThanOrEqual(INTERVAL_MS);
        expect(
          Math.abs(Date.parse(episode?.ranUntil ?? '') - Date.parse(interval.to)),
          d.vm,
        ).toBeLessThanOrEqual(INTERVAL_MS);
        const truthMs = Date.parse(interval.to) - Date.parse(interval.from);
        expect(truthMs, d.vm).toBeGreaterThanOrEqual(300_000);
        expect(Math.abs(d.totalRanMs - truthMs), d.vm).toBeLessThanOrEqual(INTERVAL_MS);
        // What reprotect would discard: never less than what the old primary wrote beside the
        // recovered VM, never more than everything it holds past the recovery point.
        const failover = truth.failovers.find((f) => f.vm === d.vm && f.kind === 'unplanned');
        const written = interval.writesBySite[plan.source] ?? 0;
        expect(written, d.vm).toBeGreaterThan(1000);
        expect(d.discard.bytes, d.vm).toBeGreaterThanOrEqual(written * BYTES_PER_WRITE);
        expect(d.discard.bytes, d.vm).toBeLessThanOrEqual(
          ((failover?.lostWrites ?? 0) + (failover?.writesAfterFailover ?? 0)) * BYTES_PER_WRITE,
        );
        expect(d.discard.since, d.vm).toBeDefined();
      }
      console.info(
        `divergence reported vs the ledger (simulated ms): ${JSON.stringify(
          divergences.map((d) => {
            const b = truth.splitBrain.find((x) => x.vm === d.vm);
            return {
              vm: d.vm,
              reported: d.totalRanMs,
              truth: Date.parse(b?.to ?? '') - Date.parse(b?.from ?? ''),
            };
          }),
        )}`,
      );
      // `drctl events` shows it (the human timeline line, and the JSON line).
      const stored = events.filter((e) => e.type === 'diverged').map((event) => ({ id: '0-0', event }));
      const lines = stored.map((e) => timelineLine(e, 0));
      for (const vm of plan.vms)
        expect(lines.filter((l) => l.includes(` ${vm.name} `)).at(-1), vm.name).toMatch(
          new RegExp(
            `DIVERGED: ran at ${plan.source} for (\\d+h)?\\d+m\\d*s?.* while failed over to ${plan.target}; fenced`,
          ),
        );
      const listed = await cli(s, ['events', id]);
      expect(listed.code, listed.out).toBe(0);
      expect(listed.out.split('\n').filter((l) => l.includes('"type":"diverged"'))).toHaveLength(
        stored.length,
      );

      // `drctl status <id>`: the divergence per VM, every fence counted, and exit 1.
      const status = await cli(s, ['status', id]);
      expect(status.code, status.out).toBe(1);
      const json = JSON.parse(status.out) as {
        divergence: { vm: string; totalRanMs: number; acknowledged?: unknown }[];
        fencing: { vm: string; fenced: boolean; diverged?: boolean }[];
      };
      expect(json.divergence.map((d) => d.vm).sort()).toEqual(plan.vms.map((v) => v.name).sort());
      expect(json.fencing.every((f) => f.fenced && f.diverged)).toBe(true);

      // Reprotect without leave: refused, exit 1, each VM named with what it would discard; nothing changed.
      const before = structuredClone(world.truth().mutations);
      const refused = await cli(s, ['reprotect', PLAN]);
      expect(refused.code, refused.out).toBe(1);
      expect(refused.out).toContain('refused, nothing changed');
      for (const vm of plan.vms)
        expect(refused.out, vm.name).toMatch(
          new RegExp(`${vm.name} ran at ${plan.source} for .*reprotect would discard its writes since .*MB`),
        );
      expect(refused.out).toContain('--discard-diverged');
      expect(world.truth().mutations).toEqual(before);
      expect((await engine.client.get(id)).status).toBe('completed');
      // A leave naming a VM that did not diverge is bad input.
      const stray = await cli(s, ['reprotect', PLAN, '--discard-diverged', 'nosuch-vm', '--reason', 'x']);
      expect(stray.code, stray.out).toBe(2);
      // A leave without a reason is bad input too.
      const noReason = await cli(s, ['reprotect', PLAN, '--discard-diverged', 'all']);
      expect(noReason.code, noReason.out).toBe(2);
      expect(world.truth().mutations).toEqual(before);

      // With leave: it proceeds, and the acknowledgement is recorded with who and why.
      const reason = 'old primaries held only test writes (CHG-42)';
      const allowed = await cli(s, ['reprotect', PLAN, '--discard-diverged', 'all', '--reason', reason]);
      expect(allowed.code, allowed.out).toBe(0);
      const after = await engine.client.get(id);
      expect(after.status).toBe('reprotected');
      const acks = (await executionEvents(engine, id)).filter((e) => e.type === 'divergence-acknowledged');
      expect(acks).toEqual([
        expect.objectContaining({ vms: plan.vms.map((v) => v.name), reason, by: expect.any(String) }),
      ]);
      const ack = acks[0];
      if (ack?.type !== 'divergence-acknowledged') throw new Error('unreachable');
      const reprotectLog = await executionEvents(engine, ack.reprotect);
      expect(reprotectLog.some((e) => e.type === 'divergence-acknowledged' && e.reason === reason)).toBe(
        true,
      );
      for (const vm of plan.vms)
        expect(world.truth().mutations[vm.name]?.[plan.target]?.reverseVMReplication).toBe(1);
      // Acknowledged: status no longer fails.
      const later = await cli(s, ['status', id]);
      expect(later.code, later.out).toBe(0);
    } finally {
      await back?.kill('SIGTERM');
      await s.close();
    }
  }, 240_000);

  it('with the automatic start action set to Nothing (drctl protect), the returning site starts nothing', async () => {
    const s = await setup();
    let back: EngineProcess | undefined;
    try {
      const { plan, world, engine } = s;
      // Pre-flight of an unplanned failover warns, at each VM, before the disaster.
      const warned = await engine.client.preflight({ type: 'unplanned', plan });
      expect(warned.warnings.filter((w) => w.code === 'AUTOMATIC_START_ACTION').map((w) => w.vm)).toEqual(
        plan.vms.map((v) => v.name),
      );
      // A protect is an execution: its steps run on the source site's queue, so its agent runs.
      const agent = spawnDrctl(s.agentArgs, s.env);
      await agent.ready;
      const protect = await cli(s, ['protect', PLAN, '--automatic-start-action', 'Nothing']);
      await agent.kill('SIGTERM');
      expect(protect.code, protect.out).toBe(0);
      expect(JSON.parse(protect.out.trim().split('\n').at(-1) ?? '')).toMatchObject({
        ok: true,
        vms: plan.vms.map((v) => ({
          vm: v.name,
          site: plan.source,
          before: 'StartIfRunning',
          after: 'Nothing',
          changed: true,
        })),
      });
      const quiet = await engine.client.preflight({ type: 'unplanned', plan });
      expect(quiet.warnings.map((w) => w.code)).not.toContain('AUTOMATIC_START_ACTION');

      const id = await loseSourceAndFailOver(s);
      back = await sourceReturnsBeforeItsAgent(s);
      // The late fences run and find the old primaries off: fenced, nothing diverged.
      await until('late fences done', async () => {
        const late = (await executionEvents(engine, id)).filter(
          (e) => e.type === 'step-finished' && e.step.endsWith('/fence') && e.outcome === 'done',
        );
        return late.length === plan.vms.length;
      });
      const truth = world.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.autoStarts, vm.name).toBe(0);
        expect(await world.api.getVM(plan.source, vm.name)).toMatchObject({
          state: 'Off',
          startBarred: true,
        });
      }
      expect((await executionEvents(engine, id)).some((e) => e.type === 'diverged')).toBe(false);
      const status = await cli(s, ['status', id]);
      expect(status.code, status.out).toBe(0);
      expect(JSON.parse(status.out).divergence).toBeUndefined();

      // A fenced old primary does not start when its host returns either, whatever its action.
      for (const vm of plan.vms)
        await world.api.setVMAutomaticStartAction({
          site: plan.source,
          vm: vm.name,
          epoch: (await world.api.getVM(plan.source, vm.name)).epoch,
          action: 'Start',
        });
      world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      world.fault({ kind: 'site-power', site: plan.source, state: 'on' });
      for (const vm of plan.vms)
        expect((await world.api.getVM(plan.source, vm.name)).state, vm.name).toBe('Off');
      expect(world.truth().splitBrain).toEqual([]);
    } finally {
      await back?.kill('SIGTERM');
      await s.close();
    }
  }, 240_000);
});
