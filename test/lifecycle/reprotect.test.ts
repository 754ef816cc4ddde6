import { afterEach, describe, expect, it } from 'vitest';
import { latestFailoverOf, readEvents, submitReprotect } from '../../engine/executor/index.ts';
import { readFailedOver } from '../../engine/locks/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { type LifecycleEngine, refusal, settled, smallPlan, startLifecycleEngine, vmAt } from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** Each VM primary at `primary`, replicating to `replica` with health Normal. */
async function expectProtected(
  e: LifecycleEngine,
  vms: readonly string[],
  primary: string,
  replica: string,
): Promise<void> {
  for (const vm of vms) {
    const view = await vmAt(e, primary, vm);
    expect(view.replication?.mode).toBe('Primary');
    expect(view.replication?.replicaSite).toBe(replica);
    expect(view.replication?.state).toBe('Replicating');
    expect(view.replication?.health).toBe('Normal');
    expect((await vmAt(e, replica, vm)).replication?.mode).toBe('Replica');
  }
}

async function resyncBytes(e: LifecycleEngine, id: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const { event } of await readEvents(e.redis, e.prefix, id)) {
    if (event.type === 'step-finished' && event.step.endsWith('/reprotect') && event.output)
      out.set(event.step.slice(0, -'/reprotect'.length), Number(event.output.resyncBytes));
  }
  return out;
}

describe('reprotect and failback', () => {
  it('round trip: reprotect, planned failback with zero loss, reprotect again; healthy both ways, markers cleared', async () => {
    const { plan, hash } = smallPlan('r1');
    engine = await startLifecycleEngine(plan);
    const names = plan.vms.map((v) => v.name);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    expect((await latestFailoverOf(engine.redis, engine.prefix, plan.metadata.name))?.id).toBe(id);

    const reprotect = await submitReprotect(engine.redis, engine.prefix, id, engine.who);
    expect((await engine.client.get(id)).status).toBe('reprotecting');
    const view = await settled(engine, reprotect);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    const reversed = await engine.client.get(id, { vms: true });
    expect(reversed.status).toBe('reprotected');
    expect(Object.values(reversed.vms ?? {})).toEqual(names.map(() => 'protected'));
    await expectProtected(engine, names, plan.target, plan.source);
    expect(await submitReprotect(engine.redis, engine.prefix, id, engine.who)).toEqual({
      id: reprotect.id,
      created: false,
    });
    // After a planned failover nothing needs resending.
    expect([...(await resyncBytes(engine, reprotect.id)).values()]).toEqual(names.map(() => 0));

    const failback = await engine.client.submit({
      type: 'planned',
      direction: 'failback',
      plan,
      hash,
      reason: 'home',
    });
    const back = await waitForStatus(engine.client, failback.id, ['completed', 'failed']);
    expect(back.error).toBeUndefined();
    expect(back.status).toBe('completed');
    expect(back.dataLoss?.map((d) => [d.bound, d.windowMs])).toEqual(names.map(() => ['exact', 0]));
    const ledger = engine.world.truth().failovers.filter((f) => f.toSite === plan.source);
    expect(ledger.map((f) => [f.vm, f.kind, f.lostWrites])).toEqual(names.map((vm) => [vm, 'planned', 0]));
    expect((await readFailedOver(engine.redis, engine.prefix, names)).size).toBe(0);

    const home = await submitReprotect(engine.redis, engine.prefix, failback.id, engine.who);
    expect((await settled(engine, home)).status).toBe('completed');
    await expectProtected(engine, names, plan.source, plan.target);
    const truth = engine.world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of names) expect(truth.vms[vm]?.primarySites).toEqual([plan.source]);
    expect((await engine.client.get(failback.id)).status).toBe('reprotected');
  });

  it('after an unplanned failover: resynchronizes the writes since the fork, followed until Normal', async () => {
    const { plan, hash } = smallPlan('r2');
    engine = await startLifecycleEngine(plan);
    const names = plan.vms.map((v) => v.name);
    const { id } = await engine.client.submit({
      type: 'unplanned',
      plan,
      hash,
      reason: 'east unreachable',
      recoveryPoint: { kind: 'latestProcessed' },
    });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    // Not committed yet: reprotect needs no commit (a reverse completes the failover too).
    const reprotect = await submitReprotect(engine.redis, engine.prefix, id, engine.who);
    const view = await settled(engine, reprotect, 120_000);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    const bytes = await resyncBytes(engine, reprotect.id);
    for (const vm of names) expect(bytes.get(vm)).toBeGreaterThan(0);
    await expectProtected(engine, names, plan.target, plan.source);
    expect(engine.world.truth().splitBrain).toEqual([]);
  });

  it('refuses a failed failover: commit --partial first', async () => {
    const { plan, hash } = smallPlan('r3');
    engine = await startLifecycleEngine(plan);
    engine.world.fault({ kind: 'boot', vm: 'r3-app2', site: plan.target, mode: 'fail' });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('failed');
    const refused = await refusal(submitReprotect(engine.redis, engine.prefix, id, engine.who));
    expect(refused.code).toBe('FAILOVER_INCOMPLETE');
    expect(refused.message).toContain('--partial');
  });
});
