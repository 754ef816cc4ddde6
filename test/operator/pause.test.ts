/**
 * Failure policy `then: pause` and the operator's commands (real Redis, real BullMQ workers, the
 * simulated sites as judge): a paused step waits, the rest of the plan goes on, the execution shows
 * as paused, the pause survives an orchestrator restart, and retry / skip / done / approve are
 * recorded with who, when and why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approveAction,
  createQueueConnection,
  describePaused,
  giveOperatorCommand,
} from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { spawnOrchestrator } from '../engine/processes.ts';
import {
  actionFixtures,
  executionEvents,
  loadExample,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from '../engine/support.ts';

let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
beforeAll(async () => {
  fixtures = await actionFixtures();
});
afterAll(async () => {
  await fixtures?.close();
});

async function command(
  engine: TestEngine,
  id: string,
  name: 'retry' | 'skip' | 'done',
  step: string,
  reason: string,
): Promise<Awaited<ReturnType<typeof giveOperatorCommand>>> {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    return await giveOperatorCommand(redis, engine.prefix, {
      execution: id,
      command: name,
      step,
      by: 'alice',
      reason,
    });
  } finally {
    await redis.quit();
  }
}

async function paused(engine: TestEngine, id: string): Promise<Awaited<ReturnType<typeof describePaused>>> {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    return await describePaused(redis, engine.prefix, id);
  } finally {
    await redis.quit();
  }
}

async function waitForApproval(engine: TestEngine, id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const log = await executionEvents(engine, id);
    if (log.some((e) => e.type === 'execution-status' && e.detail?.includes('waiting for approval'))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} never waited for an approval`);
}

async function approve(engine: TestEngine, id: string, action: string): Promise<void> {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    await approveAction(redis, engine.prefix, id, action, 'alice', { comment: 'checked' });
  } finally {
    await redis.quit();
  }
}

/** three-tier with app-02 failing its readiness for good (no heartbeat) under `then: pause`. */
async function app02Pauses(): Promise<{ plan: RecoveryPlan; hash: string }> {
  const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
  const app2 = plan.vms.find((vm) => vm.name === 'app-02');
  if (!app2) throw new Error('three-tier has app-02');
  app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 20_000, onTimeout: 'fail' };
  app2.onFailure = { retries: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' };
  return { plan, hash };
}

describe('then: pause', () => {
  it('pauses the failed step only: independent VMs go on, dependents wait; `done` lets them go', async () => {
    const { plan, hash } = await app02Pauses();
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'app-02 will not answer',
        approveManual: true,
      });
      await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      // app-01 (independent of app-02) still gets to ready while app-02 waits.
      for (let i = 0; i < 600; i++) {
        const view = await engine.client.get(id, { vms: true });
        if (view.vms?.['app-01'] === 'ready') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const view = await engine.client.get(id, { vms: true });
      expect(view.status).toBe('paused');
      expect(view.vms).toMatchObject({ 'sql-01': 'ready', 'app-01': 'ready', 'web-01': 'waiting' });
      const waiting = await paused(engine, id);
      expect(waiting).toHaveLength(1);
      expect(waiting[0]).toMatchObject({ step: 'app-02/readiness', attempt: 1 });
      expect(waiting[0]?.error?.code).toBe('READINESS_TIMEOUT');
      expect(waiting[0]?.commands).toContain(`drctl step done ${id} app-02/readiness --reason "..."`);
      expect(engine.world.truth().failovers.some((f) => f.vm === 'web-01')).toBe(false);

      // The operator fixed the app by hand.
      const receipt = await command(
        engine,
        id,
        'done',
        'app-02/readiness',
        'restarted the app service by hand',
      );
      expect(receipt).toMatchObject({ applied: true, accepted: true, by: 'alice' });
      const final = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(final.status).toBe('completed');
      expect(engine.world.truth().failovers.some((f) => f.vm === 'web-01')).toBe(true);

      const log = await executionEvents(engine, id);
      const action = log.find((e) => e.type === 'operator-action');
      expect(action).toMatchObject({
        step: 'app-02/readiness',
        command: 'done',
        by: 'alice',
        reason: 'restarted the app service by hand',
        accepted: true,
      });
      const statuses = log.flatMap((e) => (e.type === 'execution-status' ? [e.status] : []));
      expect(statuses).toContain('paused');
      expect(statuses.lastIndexOf('running')).toBeGreaterThan(statuses.indexOf('paused'));
      expect(
        log.find((e) => e.type === 'step-finished' && e.step === 'app-02/readiness' && e.outcome === 'done'),
      ).toBeDefined();
    } finally {
      await engine.close();
    }
  });

  it('retries with backoff, then pauses; `retry` dispatches attempt 3 once the host is back', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const sql = plan.vms.find((vm) => vm.name === 'sql-01');
    if (!sql) throw new Error('three-tier has sql-01');
    sql.onFailure = { retries: 1, backoff: { initialMs: 50, factor: 2, maxMs: 100 }, outcome: 'pause' };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const { id } = await engine.client.submit({ type: 'unplanned', plan, hash, reason: 'west host down' });
      // The host goes down after the pre-flight, while the plan waits for its manual SAN check.
      await waitForApproval(engine, id);
      const [host] = await engine.world.api.listHosts(plan.target);
      const hostName = host?.name ?? '';
      engine.world.fault({ kind: 'host-crash', site: plan.target, host: hostName });
      await approve(engine, id, 'confirm-san');
      const view = await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      expect(view.status).toBe('paused');
      expect(await paused(engine, id)).toMatchObject([{ step: 'sql-01/failover', attempt: 2 }]);

      // A command about a step that is not paused is refused, and nothing is recorded.
      await expect(command(engine, id, 'retry', 'app-01/failover', 'x')).rejects.toThrow(
        /app-01\/failover .* is pending, not paused/,
      );
      await expect(command(engine, id, 'retry', 'nosuch/failover', 'x')).rejects.toThrow(/has no step/);

      engine.world.fault({ kind: 'host-up', site: plan.target, host: hostName });
      const receipt = await command(engine, id, 'retry', 'sql-01/failover', 'host is back');
      expect(receipt).toMatchObject({ applied: true, accepted: true, attempt: 2 });
      const final = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(final.status).toBe('completed');
      const log = await executionEvents(engine, id);
      const attempts = log.flatMap((e) =>
        e.type === 'step-started' && e.step === 'sql-01/failover' ? [e.attempt] : [],
      );
      expect(attempts).toEqual([1, 2, 3]);
      expect(log.filter((e) => e.type === 'step-paused')).toHaveLength(1);

      // Settled: further commands are refused.
      await expect(command(engine, id, 'retry', 'sql-01/failover', 'again')).rejects.toThrow(
        /is completed: nothing waits for an operator/,
      );
    } finally {
      await engine.close();
    }
  });

  it('survives an orchestrator restart: still paused, and `skip` applied by the new orchestrator lets dependents go', async () => {
    const { plan, hash } = await app02Pauses();
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'restart while paused',
        approveManual: true,
      });
      await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      await engine.orchestrator?.close(5000);
      engine.orchestrator = undefined;
      // With no orchestrator, the command is recorded, not applied.
      const queued = await (async () => {
        const redis = createQueueConnection(engine.redisUrl);
        try {
          return await giveOperatorCommand(redis, engine.prefix, {
            execution: id,
            command: 'skip',
            step: 'app-02/readiness',
            by: 'bob',
            reason: 'app-02 is being rebuilt; web-01 can run on app-01 alone',
            waitMs: 200,
          });
        } finally {
          await redis.quit();
        }
      })();
      expect(queued.applied).toBe(false);
      expect((await engine.client.get(id)).status).toBe('paused');
      await engine.startOrchestrator();
      const final = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(final.status).toBe('completed');
      const log = await executionEvents(engine, id);
      expect(log.find((e) => e.type === 'operator-action')).toMatchObject({
        command: 'skip',
        by: 'bob',
        accepted: true,
      });
      expect(
        log.find(
          (e) => e.type === 'step-finished' && e.step === 'app-02/readiness' && e.outcome === 'skipped',
        ),
      ).toBeDefined();
      expect(log.some((e) => e.type === 'execution-resumed')).toBe(true);
    } finally {
      await engine.close();
    }
  });
});

describe('then: pause, with real orchestrator processes', { timeout: 120_000 }, () => {
  it('an orchestrator SIGKILLed while paused: the next one still shows it paused and applies the retry given meanwhile', async () => {
    const { plan, hash } = await app02Pauses();
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog, orchestrator: false });
    const doomed = spawnOrchestrator(engine.redisUrl, engine.prefix);
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'kill while paused',
        approveManual: true,
      });
      await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      await doomed.kill('SIGKILL');
      expect((await engine.client.get(id)).status).toBe('paused');
      // The boot fault is fixed; the operator asks for a retry while no orchestrator runs.
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'normal' });
      const redis = createQueueConnection(engine.redisUrl);
      const receipt = await giveOperatorCommand(redis, engine.prefix, {
        execution: id,
        command: 'retry',
        step: 'app-02/readiness',
        by: 'frank',
        reason: 'app fixed',
        waitMs: 0,
      }).finally(() => redis.quit());
      expect(receipt.applied).toBe(false);
      const survivor = spawnOrchestrator(engine.redisUrl, engine.prefix);
      try {
        // Readiness alone cannot bring a heartbeat back to a VM that booted without one: the retry
        // runs (attempt 2) and pauses again; the operator then records the fix by hand.
        for (let i = 0; i < 1200; i++) {
          const log = await executionEvents(engine, id);
          if (log.filter((e) => e.type === 'step-paused').length === 2) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const log = await executionEvents(engine, id);
        expect(
          log.filter((e) => e.type === 'step-paused').map((e) => (e.type === 'step-paused' ? e.attempt : 0)),
        ).toEqual([1, 2]);
        expect(log.find((e) => e.type === 'operator-action')).toMatchObject({
          command: 'retry',
          by: 'frank',
          accepted: true,
        });
        expect(log.some((e) => e.type === 'execution-resumed')).toBe(true);
        expect((await engine.client.get(id)).status).toBe('paused');
        const done = await command(engine, id, 'done', 'app-02/readiness', 'rebooted the guest by hand');
        expect(done).toMatchObject({ applied: true, accepted: true, attempt: 2 });
        expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000)).status).toBe(
          'completed',
        );
      } finally {
        await survivor.kill('SIGTERM');
      }
    } finally {
      await doomed.kill('SIGKILL');
      await engine.close();
    }
  });
});

describe('manual actions', () => {
  it('records who approved, when and with what comment', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'maintenance' });
      await waitForApproval(engine, id);
      const redis = createQueueConnection(engine.redisUrl);
      try {
        await expect(
          approveAction(redis, engine.prefix, id, 'update-dns', 'carol', { comment: 'x' }),
        ).rejects.toThrow(/not waiting for approval of action\/update-dns/);
        const receipt = await approveAction(redis, engine.prefix, id, 'confirm-san', 'carol', {
          comment: 'SAN replication paused, ticket CHG-1234',
        });
        expect(receipt).toMatchObject({ applied: true, accepted: true, step: 'action/confirm-san' });
      } finally {
        await redis.quit();
      }
      const final = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(final.status).toBe('completed');
      const log = await executionEvents(engine, id);
      const approval = log.find((e) => e.type === 'operator-action');
      expect(approval).toMatchObject({
        command: 'approve',
        step: 'action/confirm-san',
        by: 'carol',
        reason: 'SAN replication paused, ticket CHG-1234',
        accepted: true,
      });
      expect(Number.isNaN(Date.parse(approval?.type === 'operator-action' ? approval.givenAt : ''))).toBe(
        false,
      );
      const finished = log.find((e) => e.type === 'step-finished' && e.step === 'action/confirm-san');
      expect(finished).toMatchObject({
        outcome: 'done',
        output: { approvedBy: 'carol', comment: 'SAN replication paused, ticket CHG-1234' },
      });
    } finally {
      await engine.close();
    }
  });
});
