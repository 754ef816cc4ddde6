/**
 * Unplanned failover fences the source first (issue #4): with the source up, the old primaries are
 * turned off and barred before any replica starts, so the simulator never sees a VM run in two
 * sites; with the source down, the failover goes on after the plan's fencing deadline and the old
 * primaries are fenced when the source site's agent comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fencingOf } from '../../engine/cli/run/fencing.ts';
import { type SiteWorkers, startOrchestrator, startSiteWorkers } from '../../engine/executor/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { startSimServer, worldForPlan } from '../../simulators/index.ts';
import { type EngineProcess, spawnDrctl } from './processes.ts';
import {
  actionFixtures,
  approveAsOperator,
  executionEvents,
  loadExample,
  silent,
  startTestEngine,
  waitForStatus,
} from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';

/** The example without its actions: these tests are about the VMs, and scripts would only slow them. */
async function vmsOnly(webhookUrl: string): Promise<{ plan: RecoveryPlan; hash: string }> {
  const { plan, hash } = await loadExample(PLAN, webhookUrl);
  return { plan: { ...plan, actions: [] }, hash };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('unplanned failover fences the source', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('after a drill and its cleanup, with the source up: old primaries fenced first, no split-brain', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const drill = await engine.client.submit({ type: 'test', plan, hash, reason: 'drill' });
      const operator = approveAsOperator(engine.client, drill.id);
      await waitForStatus(engine.client, drill.id, ['awaiting-cleanup', 'failed'], 120_000);
      operator.stop();
      const cleanup = await engine.client.cleanup(drill.id, { reason: 'drill done' });
      expect((await waitForStatus(engine.client, cleanup.id, ['completed', 'failed'])).status).toBe(
        'completed',
      );

      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east is misbehaving',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');

      const truth = engine.world.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
        expect(truth.mutations[vm.name]?.[plan.source], vm.name).toEqual({ fenceVM: 1 });
        const old = await engine.world.api.getVM(plan.source, vm.name);
        expect(old).toMatchObject({ state: 'Off', startBarred: true, epoch: view.epoch });
      }
      // Each VM's fence finished before its failover started, and the operator sees it.
      const events = await executionEvents(engine, id);
      const index = (match: (e: (typeof events)[number]) => boolean) => events.findIndex(match);
      for (const vm of plan.vms) {
        const fenced = index(
          (e) => e.type === 'step-finished' && e.step === `${vm.name}/fence` && e.outcome === 'done',
        );
        const failover = index((e) => e.type === 'step-started' && e.step === `${vm.name}/failover`);
        expect(fenced, vm.name).toBeGreaterThanOrEqual(0);
        expect(fenced, vm.name).toBeLessThan(failover);
        const phase = events.find(
          (e) => e.type === 'vm-phase' && e.vm === vm.name && e.detail?.startsWith('source fenced'),
        );
        expect(phase, vm.name).toMatchObject({ site: plan.source, phase: 'waiting' });
      }
      // drctl status says so.
      const status = await fencingOf(engine.client, view);
      expect(status.fencing).toEqual(plan.vms.map((vm) => ({ vm: vm.name, fenced: true })));
      expect(status.lines).toEqual([`source fencing: 4 of 4 old primaries fenced`]);
      // The same through the CLI, as a process: drctl status <id> --json.
      const cli = spawnDrctl(['status', id, '--prefix', engine.prefix], { REDIS_URL: engine.redisUrl });
      expect((await cli.exited).code, cli.output()).toBe(0);
      expect(JSON.parse(cli.output()).fencing).toEqual(status.fencing);
    } finally {
      await engine.close();
    }
  });

  it('with the source site lost with its agent (SIGKILL): fails over after the deadline, fences when the site returns', async () => {
    const { plan: loaded, hash } = await vmsOnly(fixtures.webhookUrl);
    const plan: RecoveryPlan = { ...loaded, fencing: { deadlineMs: 2_000 } };
    const world = worldForPlan(plan, { clock: { mode: 'scaled', speed: 2000 }, warmupMs: 5 * 3_600_000 });
    const engine = await startTestEngine(plan, {
      catalog: fixtures.catalog,
      world,
      workerSites: [plan.target, 'control'],
    });
    const sim = await startSimServer(world.api);
    // The source site's agent: a real `drctl worker` process, as in production.
    const agentArgs = ['worker', '--site', plan.source, '--sim', sim.url, '--prefix', engine.prefix];
    const env = { REDIS_URL: engine.redisUrl };
    const lost = spawnDrctl(agentArgs, env);
    let back: EngineProcess | undefined;
    try {
      await lost.ready;
      // The site goes dark, its agent with it.
      await lost.kill('SIGKILL');
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east is gone',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const events = await executionEvents(engine, id);
      const startedAt = Date.parse(events.find((e) => e.type === 'execution-started')?.at ?? '');
      for (const vm of plan.vms) {
        const warned = events.find((e) => e.type === 'step-finished' && e.step === `${vm.name}/fence`);
        expect(warned, vm.name).toMatchObject({
          outcome: 'warned',
          site: plan.source,
          output: { fenced: false, reason: 'deadline' },
          error: { code: 'NOT_FENCED' },
        });
        if (warned?.type !== 'step-finished') throw new Error('unreachable');
        expect(warned.error?.message).toContain(`${vm.name} not fenced within 2s`);
        expect(Date.parse(warned.at) - startedAt).toBeGreaterThanOrEqual(2_000);
        expect(
          events.some(
            (e) => e.type === 'vm-phase' && e.vm === vm.name && e.detail?.startsWith('source NOT fenced'),
          ),
        ).toBe(true);
        expect((await engine.world.api.getVM(plan.target, vm.name)).state).toBe('Running');
      }
      const before = await fencingOf(engine.client, view);
      expect(before.fencing?.map((f) => [f.vm, f.fenced])).toEqual(plan.vms.map((vm) => [vm.name, false]));
      expect(before.lines[0]).toBe('source fencing: 0 of 4 old primaries fenced');
      expect(before.lines[1]).toMatch(/^ {2}! sql-01 +NOT fenced: source site dc-east unreachable: /);

      // The site returns: Hyper-V's automatic start action (StartIfRunning) starts the old
      // primaries; then the site's agent starts and runs the fence jobs still queued.
      const returned = Date.parse(await engine.world.api.now());
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'on' });
      back = spawnDrctl(agentArgs, env);
      await back.ready;
      await until('old primaries fenced', async () => {
        for (const vm of plan.vms) {
          const old = await engine.world.api.getVM(plan.source, vm.name);
          if (old.state !== 'Off' || !old.startBarred) return false;
        }
        return true;
      });
      const truth = engine.world.truth();
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
        expect(truth.mutations[vm.name]?.[plan.source], vm.name).toEqual({ fenceVM: 1 });
        expect((await engine.world.api.getVM(plan.source, vm.name)).epoch).toBe(view.epoch);
      }
      // The only split-brain: from the site's return (automatic starts) to the late fence, closed.
      for (const interval of truth.splitBrain) {
        expect(interval.to).not.toBeNull();
        expect(Date.parse(interval.from)).toBeGreaterThanOrEqual(returned);
      }
      const spans = truth.splitBrain.map((s) => ({
        vm: s.vm,
        simulatedMs: Date.parse(s.to ?? '') - Date.parse(s.from),
        writesBySite: s.writesBySite,
      }));
      console.info(`split-brain after the source site returned: ${JSON.stringify(spans)}`);
      // The late fences are in the execution's log, after it finished.
      await until('late fence results in the log', async () => {
        const late = (await executionEvents(engine, id)).filter(
          (e) => e.type === 'step-finished' && e.step.endsWith('/fence') && e.outcome === 'done',
        );
        return late.length === plan.vms.length;
      });
      // A late fence writes no VM phase: each VM's last phase in the log is still `ready` at the target.
      const log = await executionEvents(engine, id);
      for (const vm of plan.vms) {
        const phases = log.filter((e) => e.type === 'vm-phase' && e.vm === vm.name);
        expect(phases.at(-1), vm.name).toMatchObject({ phase: 'ready', site: plan.target });
      }
      // The automatic start ran them beside their recovered VMs first: fenced late, and diverged
      // (test/engine/divergence.test.ts judges the divergence itself).
      const later = await fencingOf(engine.client, view);
      expect(later.fencing).toEqual(
        plan.vms.map((vm) => ({ vm: vm.name, fenced: true, late: true, diverged: true })),
      );
      expect(later.lines).toEqual([
        'source fencing: 4 of 4 old primaries fenced (4 late, after their site came back; 4 had started again first: diverged)',
      ]);
      expect(later.standing).toBe(4);
      // And the execution's record did not change: the steps stay warned, done stays complete.
      const after = await engine.client.get(id);
      expect(after.status).toBe('completed');
      expect(after.stepsDone).toBe(after.stepsTotal);
    } finally {
      await lost.kill('SIGKILL');
      await back?.kill('SIGTERM');
      await engine.close();
      await sim.close();
    }
  });

  it('with the source site down and its agent alive: warned at once, and the agent fences the old primaries when the site returns', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { workerSites: [plan.target, 'control'] });
    // The source site's agent keeps running (a partition, or a site whose hosts lost power).
    const source = startSiteWorkers({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      site: plan.source,
      api: engine.world.api,
      logger: silent,
      fenceSweepMs: 50,
    });
    try {
      await source.ready();
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east is dark',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.status).toBe('completed');
      const events = await executionEvents(engine, id);
      for (const vm of plan.vms) {
        const fence = events.find((e) => e.type === 'step-finished' && e.step === `${vm.name}/fence`);
        expect(fence, vm.name).toMatchObject({
          outcome: 'warned',
          output: { fenced: false, reason: 'SITE_UNREACHABLE' },
          error: { code: 'NOT_FENCED' },
        });
      }
      // No fence job is left queued: the site's return is the agent's to watch.
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'on' });
      await until('old primaries fenced by the agent', async () => {
        for (const vm of plan.vms) {
          const old = await engine.world.api.getVM(plan.source, vm.name);
          if (old.state !== 'Off' || !old.startBarred) return false;
        }
        return true;
      });
      const truth = engine.world.truth();
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
        expect(truth.mutations[vm.name]?.[plan.source], vm.name).toEqual({ fenceVM: 1 });
        expect((await engine.world.api.getVM(plan.source, vm.name)).epoch).toBe(view.epoch);
      }
      for (const interval of truth.splitBrain) expect(interval.to).not.toBeNull();
      const spans = truth.splitBrain.map((s) => Date.parse(s.to ?? '') - Date.parse(s.from));
      console.info(
        `split-brain until the agent's sweep (simulated ms, 2000x clock): ${JSON.stringify(spans)}`,
      );
      // Recorded as what it was: each VM ran in two sites until the sweep fenced it.
      await until('the sweep in the log', async () => {
        const diverged = (await executionEvents(engine, id)).filter(
          (e) => e.type === 'diverged' && e.detectedBy === 'fence-sweep' && e.fenced,
        );
        return diverged.length === plan.vms.length;
      });
      const status = await fencingOf(engine.client, view);
      expect(status.lines[0]).toBe(
        'source fencing: 4 of 4 old primaries fenced (4 late, after their site came back; 4 had started again first: diverged)',
      );
      expect(status.divergenceLines[0]).toMatch(/^!! SPLIT-BRAIN: 4 VM\(s\) ran in two sites/);
    } finally {
      await source.close(2000);
      await engine.close();
    }
  });

  it('with the source site up but its agent gone: never fails over onto a running old primary', async () => {
    const { plan: loaded, hash } = await vmsOnly(fixtures.webhookUrl);
    // Retries every 500 ms for a while: the failover waits until the source is safe, or gives up.
    const plan: RecoveryPlan = {
      ...loaded,
      fencing: { deadlineMs: 1_000 },
      vms: loaded.vms.map((vm) => ({
        ...vm,
        onFailure: { retries: 20, backoff: { initialMs: 500, factor: 1, maxMs: 500 }, outcome: 'fail-plan' },
      })),
    };
    const engine = await startTestEngine(plan, { workerSites: [plan.target, 'control'] });
    let source: SiteWorkers | undefined;
    try {
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east agent down',
        approveManual: true,
      });
      // The fences are recorded not fenced at the deadline; the first failover finds sql-01 still
      // running at the source and refuses.
      await until('the failover refused', async () =>
        (await executionEvents(engine, id)).some(
          (e) =>
            e.type === 'step-finished' && e.outcome === 'failed' && e.error?.code === 'SOURCE_STILL_RUNNING',
        ),
      );
      expect(engine.world.truth().failovers).toEqual([]);
      // The site's agent comes back: its queued fences run, the next attempt fails over.
      source = startSiteWorkers({
        redisUrl: engine.redisUrl,
        prefix: engine.prefix,
        site: plan.source,
        api: engine.world.api,
        logger: silent,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = engine.world.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
        expect(truth.mutations[vm.name]?.[plan.source], vm.name).toEqual({ fenceVM: 1 });
      }
      const refused = (await executionEvents(engine, id)).find(
        (e) => e.type === 'step-finished' && e.error?.code === 'SOURCE_STILL_RUNNING',
      );
      expect(refused).toMatchObject({ step: 'sql-01/failover', site: plan.target });
      if (refused?.type !== 'step-finished') throw new Error('unreachable');
      expect(refused.error?.message).toContain('sql-01 still runs as the primary at dc-east');
    } finally {
      await source?.close(2000);
      await engine.close();
    }
  });

  it('keeps the deadline across an orchestrator restart: it is counted from the start stored in Redis', async () => {
    const { plan: loaded, hash } = await vmsOnly(fixtures.webhookUrl);
    // Ten minutes: only an orchestrator that counts from the stored start (and whose clock says
    // eleven minutes passed) records the fences warned within this test's time.
    const plan: RecoveryPlan = { ...loaded, fencing: { deadlineMs: 600_000 } };
    const engine = await startTestEngine(plan, {
      catalog: fixtures.catalog,
      workerSites: [plan.target, 'control'],
      orchestrator: false,
    });
    try {
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const options = {
        redisUrl: engine.redisUrl,
        prefix: engine.prefix,
        compile: compilePlan,
        logger: silent,
        leaseMs: 2000,
        pollMs: 200,
        sweepIdleMs: 500,
      };
      const first = await startOrchestrator(options);
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'east is gone',
        approveManual: true,
      });
      await until('fences queued', async () => {
        const events = await executionEvents(engine, id);
        return events.some((e) => e.type === 'execution-started');
      });
      await first.close(5000);
      expect((await engine.client.get(id)).status).toBe('running');

      const second = await startOrchestrator({ ...options, now: () => Date.now() + 660_000 });
      try {
        const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
        expect(view.status).toBe('completed');
        const events = await executionEvents(engine, id);
        expect(events.some((e) => e.type === 'execution-resumed')).toBe(true);
        const fences = events.filter((e) => e.type === 'step-finished' && e.step.endsWith('/fence'));
        expect(fences.map((e) => e.type === 'step-finished' && e.outcome)).toEqual(
          plan.vms.map(() => 'warned'),
        );
      } finally {
        await second.close(5000);
      }
    } finally {
      await engine.close();
    }
  });
});
