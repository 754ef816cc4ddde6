/**
 * What the lifecycle tests share: a small three-VM plan, an engine (test/engine/support.ts) with a
 * Redis connection for the lifecycle store, and the simulator's truth per VM.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { createQueueConnection, type LifecycleSubmitted } from '../../engine/executor/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import type { VmView } from '../../simulators/api.ts';
import {
  startTestEngine,
  type TestEngine,
  type TestEngineOptions,
  waitForStatus,
} from '../engine/support.ts';

/** db-1 → app-1, app-2: heartbeat readiness with a short timeout (a failing boot fails fast). */
export function smallPlan(name: string): { plan: RecoveryPlan; hash: string } {
  const result = parsePlan(smallPlanText(name), `${name}.yaml`);
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join('; '));
  return { plan: result.plan, hash: result.hash };
}

export function smallPlanText(name: string): string {
  return `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: ${name} }
spec:
  source: dc-east
  target: dc-west
  recoveryPoint: latest
  vms:
    - { name: ${name}-db, readiness: { heartbeat: true, timeout: 2m } }
    - { name: ${name}-app1, dependsOn: [${name}-db], readiness: { heartbeat: true, timeout: 2m } }
    - { name: ${name}-app2, dependsOn: [${name}-db], readiness: { heartbeat: true, timeout: 2m } }
`;
}

export interface LifecycleEngine extends TestEngine {
  redis: Redis;
  /** Who asks, and the hosts the operations' pre-flight reads (the engine's world). */
  who: { by: string; reason: string; hosts: TestEngine['world']['api'] };
}

export async function startLifecycleEngine(
  plan: RecoveryPlan,
  options: TestEngineOptions = {},
): Promise<LifecycleEngine> {
  const engine = await startTestEngine(plan, options);
  const redis = createQueueConnection(engine.redisUrl, { name: 'lifecycle-test' });
  const close = engine.close;
  return Object.assign(engine, {
    redis,
    who: { ...who, hosts: engine.world.api },
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
      await close();
    },
  });
}

export const who = { by: 'tester', reason: 'lifecycle test' };

/** Wait for a lifecycle execution (stored at once, or once its running failover settles). */
export async function settled(
  engine: TestEngine,
  submitted: LifecycleSubmitted,
  timeoutMs = 60_000,
): Promise<Awaited<ReturnType<typeof waitForStatus>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await waitForStatus(
        engine.client,
        submitted.id,
        ['completed', 'failed'],
        Math.max(1, deadline - Date.now()),
      );
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('no execution')) || Date.now() > deadline)
        throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function vmAt(engine: TestEngine, site: string, vm: string): Promise<VmView> {
  return await engine.world.api.getVM(site, vm);
}

/** The code of the DrError a promise rejects with. */
export async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; exitCode: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; message?: string; exitCode?: number };
    return { code: e.code ?? '', message: e.message ?? '', exitCode: e.exitCode ?? 1 };
  }
  throw new Error('expected a refusal, the operation was accepted');
}

/** Fail the plan over unplanned, its source site powered off; returns the failover's id. */
export async function failOverFromLostSource(
  live: LifecycleEngine,
  plan: ReturnType<typeof smallPlan>['plan'],
  hash: string,
): Promise<string> {
  live.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
  const { id } = await live.client.submit({
    type: 'unplanned',
    plan,
    hash,
    reason: 'east lost',
    recoveryPoint: { kind: 'latest' },
  });
  expect((await waitForStatus(live.client, id, ['completed', 'failed'])).status).toBe('completed');
  return id;
}
