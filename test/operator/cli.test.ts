/**
 * The operator's commands as an admin types them (`drctl status`, `drctl approve`, `drctl step`,
 * real processes), against an engine on the test Redis: what status says about a paused step and
 * an awaited approval, exit codes of refusals, and who/why in the event log.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whoAmI } from '../../engine/client/index.ts';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import {
  actionFixtures,
  loadExample,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from '../engine/support.ts';
import { tracked } from '../support/children.ts';

function drctl(
  engine: TestEngine,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--prefix', engine.prefix], {
      env: { ...process.env, REDIS_URL: engine.redisUrl, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
beforeAll(async () => {
  fixtures = await actionFixtures();
});
afterAll(async () => {
  await fixtures?.close();
});

describe('drctl status / approve / step', { timeout: 300_000 }, () => {
  it('shows what waits on an operator and applies the commands, refusing the wrong ones with exit 2', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const app2 = plan.vms.find((vm) => vm.name === 'app-02');
    if (!app2) throw new Error('three-tier has app-02');
    app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 20_000, onTimeout: 'fail' };
    app2.onFailure = { retries: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'cli tour' });

      // The manual SAN check: status says what to check and how to approve.
      for (let i = 0; i < 1200; i++) {
        const redis = createQueueConnection(engine.redisUrl);
        const log = (await readAllEvents(redis, engine.prefix, id)).map((e) => e.event);
        await redis.quit();
        if (log.some((e) => e.type === 'execution-status' && e.detail?.includes('waiting for approval')))
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
      let status = await drctl(engine, ['status', id]);
      expect(status.out).toContain(
        'WAITING FOR APPROVAL action/confirm-san: Confirm that SAN replication for the ERP LUNs is paused',
      );
      expect(status.out).toContain(`drctl approve ${id} confirm-san --comment "..."`);
      const approved = await drctl(engine, ['approve', id, 'confirm-san', '--comment', 'LUNs paused']);
      expect(approved.err).toBe('');
      // On the direct path who decides is the OS user (over the API: the token's owner).
      expect(approved.out).toBe(`approved action/confirm-san of ${id} by ${whoAmI()}\n`);
      expect(approved.code).toBe(0);

      await waitForStatus(engine.client, id, ['paused', 'completed', 'failed'], 60_000);
      status = await drctl(engine, ['status', id]);
      expect(status.out).toContain('paused');
      expect(status.out).toMatch(/PAUSED app-02\/readiness \(attempt 1 @dc-west\): READINESS_TIMEOUT: /);
      expect(status.out).toContain(`drctl step retry ${id} app-02/readiness --reason "..."`);
      const json = JSON.parse((await drctl(engine, ['status', id, '--json'])).out) as { paused: unknown[] };
      expect(json.paused).toMatchObject([{ step: 'app-02/readiness', error: { code: 'READINESS_TIMEOUT' } }]);

      // Refusals: bad input, exit 2, nothing recorded.
      const unknown = await drctl(engine, ['step', 'skip', id, 'db-99/boot', '--reason', 'x']);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain('has no step "db-99/boot"');
      expect(unknown.err).toContain('paused now: app-02/readiness');
      const notPaused = await drctl(engine, ['step', 'retry', id, 'sql-01/failover', '--reason', 'x']);
      expect(notPaused.code).toBe(2);
      expect(notPaused.err).toContain('sql-01/failover of execution');
      expect(notPaused.err).toContain('is done, not paused');
      const noReason = await drctl(engine, ['step', 'done', id, 'app-02/readiness']);
      expect(noReason.code).toBe(2);

      const done = await drctl(engine, [
        'step',
        'done',
        id,
        'app-02/readiness',
        '--reason',
        'app service restarted by hand',
      ]);
      expect(done.err).toBe('');
      expect(done.out).toBe(`marked done app-02/readiness of ${id} by ${whoAmI()}\n`);
      expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000)).status).toBe(
        'completed',
      );

      const settled = await drctl(engine, ['step', 'retry', id, 'app-02/readiness', '--reason', 'again']);
      expect(settled.code).toBe(2);
      expect(settled.err).toContain('is completed: nothing waits for an operator any more');

      const redis = createQueueConnection(engine.redisUrl);
      const events = (await readAllEvents(redis, engine.prefix, id)).map((e) => e.event);
      await redis.quit();
      expect(events.filter((e) => e.type === 'operator-action')).toMatchObject([
        {
          command: 'approve',
          step: 'action/confirm-san',
          by: whoAmI(),
          reason: 'LUNs paused',
          accepted: true,
        },
        { command: 'done', step: 'app-02/readiness', by: whoAmI(), reason: 'app service restarted by hand' },
      ]);
      const timeline = await drctl(engine, ['events', id]);
      expect(timeline.out).toContain(
        `operator ${whoAmI()}: done app-02/readiness ("app service restarted by hand")`,
      );
      expect(timeline.out).toContain('step app-02/readiness PAUSED for an operator (attempt 1)');
    } finally {
      await engine.close();
    }
  });
});
