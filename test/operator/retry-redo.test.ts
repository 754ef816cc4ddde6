/**
 * A retry redoes the part of a step that failed (real Redis, real BullMQ workers, the simulated
 * sites as judge). Bug: `drctl step retry` of a VM whose guest hung at boot re-ran only the
 * readiness wait, so it could never succeed; the retry now restarts the VM (Stop-VM -TurnOff,
 * Start-VM) when it runs and its guest never answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueConnection, describePaused, giveOperatorCommand } from '../../engine/executor/index.ts';
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

async function retry(engine: TestEngine, id: string, step: string): Promise<void> {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    await giveOperatorCommand(redis, engine.prefix, {
      execution: id,
      command: 'retry',
      step,
      by: 'alice',
      reason: 'guest fixed',
    });
  } finally {
    await redis.quit();
  }
}

async function pausedSteps(engine: TestEngine, id: string) {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    return await describePaused(redis, engine.prefix, id);
  } finally {
    await redis.quit();
  }
}

describe('when a VM booted but its guest hung, and the operator retries its readiness', {
  timeout: 150_000,
}, () => {
  it('the retry restarts the VM (Stop-VM -TurnOff, Start-VM) and succeeds once the guest boots', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const app2 = plan.vms.find((vm) => vm.name === 'app-02');
    if (!app2) throw new Error('three-tier has app-02');
    app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 600_000, onTimeout: 'fail' };
    app2.onFailure = { retries: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      // The guest of app-02 never answers: the VM runs, its heartbeat never comes.
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'app-02 hangs at boot',
        approveManual: true,
      });
      await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      expect(await pausedSteps(engine, id)).toMatchObject([{ step: 'app-02/readiness', attempt: 1 }]);
      const hung = await engine.world.api.getVM(plan.target, 'app-02');
      expect(hung).toMatchObject({ state: 'Running', heartbeat: 'NoContact' });

      // The cause is fixed (the guest would boot now), but the running VM stays hung until restarted.
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'normal' });
      await retry(engine, id, 'app-02/readiness');
      const final = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(final.status).toBe('completed');

      const calls = engine.world.truth().mutations['app-02']?.[plan.target] ?? {};
      expect(calls['stopVM.turnOff']).toBe(1);
      expect(calls.startVM).toBe(2);
      expect(await engine.world.api.getVM(plan.target, 'app-02')).toMatchObject({
        state: 'Running',
        heartbeat: 'Ok',
      });
      const log = await executionEvents(engine, id);
      const retried = log.find(
        (e) => e.type === 'step-finished' && e.step === 'app-02/readiness' && e.attempt === 2,
      );
      expect(retried).toMatchObject({ outcome: 'done', output: { redone: { action: 'restarted' } } });
    } finally {
      await engine.close();
    }
  });
});
