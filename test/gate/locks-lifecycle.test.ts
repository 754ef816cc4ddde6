/**
 * Locks follow the execution: taken at submit, released when it settles (completed, failed), and a
 * drill keeps them until its cleanup has finished. A failover records the VMs it failed over, so
 * the next forward run of them is refused until they come back.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFailedOver, readLocks, readPlanLock } from '../../engine/locks/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { testRedisClient } from '../support/redis.ts';
import { blockerCodes, crmPlan, erpPlan, gateWorld, refused } from './support.ts';

const VMS = ['sql-01', 'app-01', 'web-01'];
const redis: Redis = testRedisClient();
const engines: TestEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});
afterAll(async () => {
  await redis.quit();
});

async function held(engine: TestEngine): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const plan = await readPlanLock(redis, engine.prefix, 'erp');
  if (plan !== undefined) out.erp = plan.execution;
  for (const [vm, holder] of await readLocks(redis, engine.prefix, VMS)) out[vm] = holder.execution;
  return out;
}

describe('locks over an execution', () => {
  it('are held while a failover runs, released when it completes; its VMs are then recorded failed over', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan), orchestrator: false });
    engines.push(engine);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash: 'h', reason: 'go' });
    // taken at submit, before any orchestrator has seen the execution; no expiry once stored
    expect(await held(engine)).toEqual({ erp: id, 'sql-01': id, 'app-01': id, 'web-01': id });
    await engine.startOrchestrator();
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    expect(await held(engine)).toEqual({});
    const records = await readFailedOver(redis, engine.prefix, VMS);
    expect([...records.entries()].map(([vm, r]) => [vm, r.plan, r.execution, r.site])).toEqual([
      ['sql-01', 'erp', id, 'dc-west'],
      ['app-01', 'erp', id, 'dc-west'],
      ['web-01', 'erp', id, 'dc-west'],
    ]);
    // the simulator agrees: each VM is primary at the target only
    const truth = engine.world.truth();
    expect(VMS.map((vm) => truth.vms[vm]?.primarySites)).toEqual([['dc-west'], ['dc-west'], ['dc-west']]);
    // and the same plan cannot be failed over again before it comes back
    const again = await refused(engine.client.submit({ type: 'planned', plan, hash: 'h', reason: 'again' }));
    expect(blockerCodes(again)).toEqual(expect.arrayContaining(VMS.map((vm) => `ALREADY_FAILED_OVER:${vm}`)));
  });

  it('are released after a failure; the VMs whose failover was done are recorded, the others not', async () => {
    const plan = erpPlan();
    const app = plan.vms[1];
    if (app === undefined) throw new Error('app-01');
    app.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 30_000, onTimeout: 'fail' };
    app.onFailure = { ...app.onFailure, retries: 0, outcome: 'fail-plan' };
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    engine.world.fault({ kind: 'boot', vm: 'app-01', site: 'dc-west', mode: 'fail' });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash: 'h', reason: 'fails' });
    const view = await waitForStatus(engine.client, id, ['completed', 'failed']);
    expect(view.status).toBe('failed');
    expect(await held(engine)).toEqual({});
    const records = await readFailedOver(redis, engine.prefix, VMS);
    expect([...records.keys()]).toEqual(['sql-01', 'app-01']);
    // the records match the simulator's: web-01 was never failed over (it was shut down at the source)
    const failovers = engine.world.truth().failovers.filter((f) => f.kind === 'planned');
    expect(failovers.map((f) => f.vm).sort()).toEqual(['app-01', 'sql-01']);
  });

  it('a drill keeps them until its cleanup has finished, then they are free and nothing is recorded', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const drill = await engine.client.submit({ type: 'test', plan, hash: 'h', reason: 'drill' });
    expect((await waitForStatus(engine.client, drill.id, ['awaiting-cleanup', 'failed'])).status).toBe(
      'awaiting-cleanup',
    );
    expect(await held(engine)).toEqual({
      erp: drill.id,
      'sql-01': drill.id,
      'app-01': drill.id,
      'web-01': drill.id,
    });
    const cleanup = await engine.client.cleanup(drill.id, { reason: 'done' });
    expect((await waitForStatus(engine.client, cleanup.id, ['completed', 'failed'])).status).toBe(
      'completed',
    );
    expect((await engine.client.get(drill.id)).status).toBe('cleaned-up');
    expect(await held(engine)).toEqual({});
    expect((await readFailedOver(redis, engine.prefix, VMS)).size).toBe(0);
    // the VMs are free for another plan at once
    const crm = await engine.client.submit({ type: 'planned', plan: crmPlan(), hash: 'h', reason: 'crm' });
    expect((await waitForStatus(engine.client, crm.id, ['completed', 'failed'])).status).toBe('completed');
  });
});
