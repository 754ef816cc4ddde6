/**
 * Issue 10: the engine claims each VM's data-loss window from what production gives it (the
 * recovery point's time, the replica's last replication, what the engine saw of the old primary),
 * never from the simulator's ledger. Here the ledger judges the claims: every lost write falls
 * inside the claimed window (never an understatement), and a window whose end is known is at most
 * one replication interval wider than the truth. Real Redis, the simulated world, real workers and
 * orchestrator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataLossClaim } from '../../engine/contract/index.ts';
import { type SiteWorkers, startSiteWorkers } from '../../engine/executor/index.ts';
import { createSightingStore } from '../../engine/locks/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { type HyperVApi, SimError, type WorldTruth } from '../../simulators/index.ts';
import { judgeClaim, ledgerFailover } from '../support/judge.ts';
import { testRedisClient } from '../support/redis.ts';
import {
  actionFixtures,
  executionEvents,
  loadExample,
  silent,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from './support.ts';

const PLAN = 'plans/examples/three-tier.yaml';
/** for-plan worlds: every VM replicates every 30 s and writes 10 times a second. */
const JUDGE = { intervalMs: 30_000, writeGapMs: 100 };

async function vmsOnly(webhookUrl: string): Promise<{ plan: RecoveryPlan; hash: string }> {
  const { plan, hash } = await loadExample(PLAN, webhookUrl);
  return { plan: { ...plan, actions: [], fencing: { deadlineMs: 2_000 } }, hash };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The driver as a site that cannot reach `site` sees it: every call about that site fails. */
function cutOff(api: HyperVApi, site: string): HyperVApi {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const first = args[0];
        const about = typeof first === 'string' ? first : (first as { site?: unknown } | undefined)?.site;
        if (about === site)
          return Promise.reject(new SimError('SITE_UNREACHABLE', `site '${site}' does not answer (cut off)`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Judge every VM's claim with the ledger; returns the claims by VM. */
function judgeAll(
  plan: RecoveryPlan,
  claims: readonly DataLossClaim[] | undefined,
  truth: WorldTruth,
  kind: 'planned' | 'unplanned',
): Map<string, { claim: DataLossClaim; record: WorldTruth['failovers'][number] }> {
  expect(claims?.map((c) => c.vm)).toEqual(plan.vms.map((vm) => vm.name));
  const out = new Map<string, { claim: DataLossClaim; record: WorldTruth['failovers'][number] }>();
  for (const claim of claims ?? []) {
    const record = ledgerFailover(truth, claim.vm, kind);
    if (record === undefined) throw new Error(`the ledger has no ${kind} failover of ${claim.vm}`);
    expect(judgeClaim(claim, record, JUDGE), claim.vm).toEqual([]);
    out.set(claim.vm, { claim, record });
  }
  return out;
}

async function unplanned(
  engine: TestEngine,
  plan: RecoveryPlan,
  hash: string,
  reason: string,
  accept: string[] = [],
) {
  const { id } = await engine.client.submit({
    type: 'unplanned',
    plan,
    hash,
    reason,
    approveManual: true,
    accept,
  });
  const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
  expect(view.error).toBeUndefined();
  expect(view.status).toBe('completed');
  return { id, view };
}

describe('data-loss claims, judged by the ledger', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('site lost (power-off): at least until the site was last seen, and the truth is within one interval of it', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { workerSites: [plan.target, 'control'] });
    // The source site's agent, whose turns are the site's heartbeat.
    const source = startSiteWorkers({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      site: plan.source,
      api: engine.world.api,
      logger: silent,
      fenceSweepMs: 20,
    });
    const redis = testRedisClient();
    try {
      await source.ready();
      const seen = createSightingStore(redis, engine.prefix);
      await until('a heartbeat of the source site', async () => {
        const s = (await seen.read(plan.source, ['sql-01'])).get('sql-01');
        return s?.siteHeartbeatAt !== undefined;
      });
      engine.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
      const { id, view } = await unplanned(engine, plan, hash, 'east is dark');
      const truth = engine.world.truth();
      const judged = judgeAll(plan, view.dataLoss, truth, 'unplanned');
      const powerOff = Date.parse(truth.faults.find((f) => f.fault.startsWith('site-power'))?.at ?? '');
      for (const { claim, record } of judged.values()) {
        expect(claim.bound, claim.vm).toBe('atLeast');
        expect(claim.basis, claim.vm).toMatch(/not seen off at dc-east; last known able to write at /);
        // The site was seen up to its last heartbeat or replication: at most one interval before
        // the power went, so the truth exceeds the claimed minimum by at most one interval.
        expect(powerOff - Date.parse(claim.windowEnd), claim.vm).toBeLessThanOrEqual(JUDGE.intervalMs);
        // (A power cut right after a cycle may lose nothing: the judge then wants an empty window.)
        if (record.lostWrites > 0)
          expect(
            Date.parse(record.lostTimeRange?.last ?? '') - Date.parse(claim.windowEnd),
            JSON.stringify(record),
          ).toBeLessThanOrEqual(JUDGE.intervalMs);
      }
      // The claims are the execution's data-loss event, as recorded.
      const event = (await executionEvents(engine, id)).find((e) => e.type === 'data-loss');
      expect(event).toMatchObject({ type: 'data-loss', anyAtLeast: true, vms: view.dataLoss });
    } finally {
      await redis.quit();
      await source.close(2000);
      await engine.close();
    }
  });

  it('primary still running, then fenced: the window ends exactly at the fence', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    const engine = await startTestEngine(plan);
    try {
      const { view } = await unplanned(engine, plan, hash, 'east is misbehaving');
      const truth = engine.world.truth();
      expect(truth.splitBrain).toEqual([]);
      const judged = judgeAll(plan, view.dataLoss, truth, 'unplanned');
      for (const { claim, record } of judged.values()) {
        expect(claim.bound, claim.vm).toBe('exact');
        expect(claim.basis).toMatch(/turned off at dc-east at .* by the engine's fence/);
        // sql-01 fails over to its last application-consistent point (hours old): writes were
        // lost, and all of them are inside the window (judged above). The others' `latest` point
        // may postdate the fence (a cycle shipped the rest): nothing lost, an empty window.
        if (claim.vm === 'sql-01') expect(record.lostWrites).toBeGreaterThan(0);
        if (record.lostWrites === 0) expect(claim.windowMs, claim.vm).toBe(0);
      }
    } finally {
      await engine.close();
    }
  });

  it('source unreachable and its link cut: at least until the last replication, the primary running on', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    // The target's agent cannot reach the source site (nor can replication: the link is cut); the
    // source's own agent is cut off from the control plane, so its fence jobs never run.
    const engine = await startTestEngine(plan, { workerSites: ['control'] });
    const target: SiteWorkers = startSiteWorkers({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      site: plan.target,
      api: cutOff(engine.world.api, plan.source),
      logger: silent,
    });
    try {
      await target.ready();
      engine.world.fault({ kind: 'link', from: plan.source, to: plan.target, state: 'down' });
      const cutAt = Date.parse(await engine.world.api.now());
      // Pre-flight reads the primaries still running behind the cut: their loss grows by the
      // minute (2000× clock), past the RPO on a loaded machine; the operator fails over anyway.
      const { view } = await unplanned(engine, plan, hash, 'east cut off', ['RPO_NOT_MET']);
      const truth = engine.world.truth();
      const judged = judgeAll(plan, view.dataLoss, truth, 'unplanned');
      for (const { claim, record } of judged.values()) {
        expect(claim.bound, claim.vm).toBe('atLeast');
        // The last replication came before the cut; the primary wrote on until the failover.
        expect(Date.parse(claim.windowEnd), claim.vm).toBeLessThanOrEqual(cutAt);
        expect(Date.parse(record.lostTimeRange?.last ?? ''), JSON.stringify(record)).toBeGreaterThan(cutAt);
      }
      // The old primaries still run at the cut-off source: the claim said "at least" for that.
      expect(truth.vms['sql-01']?.primarySites).toEqual([plan.source, plan.target]);
    } finally {
      await target.close(2000);
      await engine.close();
    }
  });

  it('planned: zero loss proven without the ledger (shutdown before prepare, nothing pending), and the ledger agrees', async () => {
    const { plan, hash } = await vmsOnly(fixtures.webhookUrl);
    const engine = await startTestEngine(plan);
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'move',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
      expect(view.status).toBe('completed');
      const truth = engine.world.truth();
      const judged = judgeAll(plan, view.dataLoss, truth, 'planned');
      for (const { claim, record } of judged.values()) {
        expect(claim).toMatchObject({ bound: 'exact', windowMs: 0 });
        expect(claim.basis).toMatch(
          /^planned: .* shut down at dc-east at .* and prepared .* nothing is pending \(Measure-VMReplication\): no data loss$/,
        );
        expect(record.lostWrites).toBe(0);
      }
    } finally {
      await engine.close();
    }
  });
});
