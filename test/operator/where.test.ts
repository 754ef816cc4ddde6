/**
 * Regression (issue 10): while a planned failover waited for an approval, the VMs it had already
 * shut down at the source showed "waiting". `drctl status` says where each VM runs, from the
 * states the engine recorded, and says loudly when one runs nowhere.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueConnection, decodeStepState } from '../../engine/executor/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { tracked } from '../support/children.ts';

function drctl(engine: TestEngine, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--prefix', engine.prefix], {
      env: { ...process.env, REDIS_URL: engine.redisUrl, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

// app is shut down first (it depends on db); the manual check runs before db's shutdown.
const PLAN = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: where }
spec:
  source: dc-east
  target: dc-west
  vms:
    - { name: where-db, readiness: { heartbeat: true, timeout: 2m } }
    - { name: where-app, dependsOn: [where-db], readiness: { heartbeat: true, timeout: 2m } }
  actions:
    - { name: confirm-san, before: where-db, manual: "Confirm SAN replication is paused", on: [planned] }
`;

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('when a planned failover waits for an approval after a shutdown', { timeout: 120_000 }, () => {
  it('status says the VM shut down at the source runs nowhere, and the other still runs there', async () => {
    const parsed = parsePlan(PLAN, 'where.yaml');
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
    const { plan, hash } = parsed;
    engine = await startTestEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'where' });

    const redis = createQueueConnection(engine.redisUrl, { name: 'where-test' });
    try {
      const steps = `${engine.prefix}:{exec:${id}}:steps`;
      for (let i = 0; ; i++) {
        const [app, action] = await redis.hmget(steps, 'where-app/shutdown', 'action/confirm-san');
        if (
          decodeStepState(app ?? undefined).status === 'done' &&
          decodeStepState(action ?? undefined).status === 'queued'
        )
          break;
        if (i > 1200) throw new Error('the failover never reached its manual action');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await redis.quit();
    }
    // The simulator agrees (the judge): app is off in both sites, db still runs at the source.
    expect((await engine.world.api.getVM(plan.source, 'where-app')).state).toBe('Off');
    expect((await engine.world.api.getVM(plan.source, 'where-db')).state).toBe('Running');

    const view = await engine.client.get(id, { vms: true });
    expect(view.where?.['where-app']).toEqual({
      state: 'nowhere',
      text: 'RUNS NOWHERE: off at dc-east, not yet started at dc-west',
    });
    expect(view.where?.['where-db']).toEqual({ state: 'runs', site: 'dc-east', text: 'runs at dc-east' });

    const status = await drctl(engine, ['status', id]);
    expect(status.code).toBe(0);
    expect(status.out).toContain('1 of 2 VM(s) RUN NOWHERE right now: where-app');
    expect(status.out).toMatch(
      /where-app\s+waiting\s+RUNS NOWHERE: off at dc-east, not yet started at dc-west/,
    );
    expect(status.out).toMatch(/where-db\s+waiting\s+runs at dc-east/);
    const json = JSON.parse((await drctl(engine, ['status', id, '--json'])).out) as {
      where: Record<string, { state: string }>;
    };
    expect(json.where['where-app']?.state).toBe('nowhere');

    await engine.client.approve(id, 'confirm-san', { comment: 'paused' });
    await waitForStatus(engine.client, id, ['completed']);
    const after = await engine.client.get(id, { vms: true });
    // With the host each booted on (its boot step's answer), as the simulator has it.
    for (const name of ['where-db', 'where-app']) {
      const host = (await engine.world.api.getVM(plan.target, name)).host;
      expect(after.where?.[name]).toEqual({
        state: 'runs',
        site: 'dc-west',
        host,
        text: `runs at dc-west on ${host}`,
      });
    }
  });
});
