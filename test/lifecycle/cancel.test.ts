import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeStepState,
  latestFailoverOf,
  readLifecycle,
  readLifecycleRun,
  submitCancel,
  submitReprotect,
} from '../../engine/executor/index.ts';
import { readFailedOver } from '../../engine/locks/index.ts';
import { actionFixtures, loadExample, waitForStatus } from '../engine/support.ts';
import { type LifecycleEngine, refusal, settled, smallPlan, startLifecycleEngine, vmAt } from './support.ts';

let engine: LifecycleEngine | undefined;
let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
beforeAll(async () => {
  fixtures = await actionFixtures();
});
afterAll(async () => {
  await fixtures?.close();
});
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** Each VM primary at exactly one site, the source; the replicas replicas again; no split-brain. */
async function expectHome(
  e: LifecycleEngine,
  vms: readonly string[],
  source: string,
  target: string,
): Promise<void> {
  const truth = e.world.truth();
  expect(truth.splitBrain).toEqual([]);
  for (const vm of vms) {
    expect(truth.vms[vm]?.primarySites).toEqual([source]);
    const primary = await vmAt(e, source, vm);
    expect(primary.state).toBe('Running');
    expect(primary.replication?.mode).toBe('Primary');
    expect(primary.replication?.state).not.toBe('PreparedForFailover');
    const replica = await vmAt(e, target, vm);
    expect(replica.state).toBe('Off');
    expect(replica.replication?.mode).toBe('Replica');
    expect(replica.replication?.state).toBe('Replicating');
  }
}

describe('cancel', () => {
  it('rolls a planned failover back before commit: replicas back, primaries restarted at the source, markers cleared', async () => {
    const { plan, hash } = smallPlan('x1');
    engine = await startLifecycleEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    const names = plan.vms.map((v) => v.name);
    expect((await readFailedOver(engine.redis, engine.prefix, names)).size).toBe(3);

    const cancel = await submitCancel(engine.redis, engine.prefix, id, engine.who);
    const view = await settled(engine, cancel);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    const failover = await engine.client.get(id, { vms: true });
    expect(failover.status).toBe('cancelled');
    expect(Object.values(failover.vms ?? {})).toEqual(names.map(() => 'rolled-back'));
    await expectHome(engine, names, plan.source, plan.target);
    const truth = engine.world.truth();
    for (const vm of names) expect(truth.failovers.find((f) => f.vm === vm)?.cancelledAt).toBeDefined();
    expect((await readFailedOver(engine.redis, engine.prefix, names)).size).toBe(0);

    // Cancelled for good: asking again answers with it; other operations are refused.
    expect((await submitCancel(engine.redis, engine.prefix, id, engine.who)).created).toBe(false);
    // The VMs may fail over again (the gate sees them home and unmarked).
    const again = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move again' });
    expect((await waitForStatus(engine.client, again.id, ['completed', 'failed'])).status).toBe('completed');
    for (const vm of names) expect(engine.world.truth().vms[vm]?.primarySites).toEqual([plan.target]);
  });

  // An unplanned failover whose source is lost is not rolled back: that would turn off the only
  // running copies (test/lifecycle/preflight.test.ts, 'cancel pre-flight').

  it('of a failback: the VMs stay at the recovery site, still recorded as failed over there', async () => {
    const { plan, hash } = smallPlan('x5');
    engine = await startLifecycleEngine(plan);
    const names = plan.vms.map((v) => v.name);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    await waitForStatus(engine.client, id, ['completed']);
    await settled(engine, await submitReprotect(engine.redis, engine.prefix, id, engine.who));
    const failback = await engine.client.submit({
      type: 'planned',
      direction: 'failback',
      plan,
      hash,
      reason: 'home',
    });
    await waitForStatus(engine.client, failback.id, ['completed']);
    const cancel = await submitCancel(engine.redis, engine.prefix, failback.id, engine.who);
    expect((await settled(engine, cancel)).status).toBe('completed');
    expect((await engine.client.get(failback.id)).status).toBe('cancelled');
    // Home is the failover's target now: the VMs run there, replicating to the source again.
    await expectHome(engine, names, plan.target, plan.source);
    const records = await readFailedOver(engine.redis, engine.prefix, names);
    expect([...records.values()].map((r) => r.site)).toEqual(names.map(() => plan.target));
    // Plan-level commands now act on the forward failover again (reprotected: a failback may follow).
    const latest = await latestFailoverOf(engine.redis, engine.prefix, plan.metadata.name);
    expect(latest).toMatchObject({ id, status: 'reprotected' });
  });

  it('undoes the actions that ran (undo declared) and lists those that cannot be undone', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    engine = await startLifecycleEngine(plan, { catalog: fixtures.catalog });
    const { id } = await engine.client.submit({
      type: 'planned',
      plan,
      hash,
      reason: 'move',
      approveManual: true,
    });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000)).status).toBe(
      'completed',
    );

    const cancel = await submitCancel(engine.redis, engine.prefix, id, engine.who);
    expect(cancel.run?.undone).toEqual(['update-dns']);
    expect(cancel.run?.notUndone?.sort()).toEqual(['confirm-san', 'notify-oncall']);
    const view = await settled(engine, cancel, 120_000);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${cancel.id}}:steps`);
    expect(decodeStepState(steps['action/update-dns/undo']).status).toBe('done');
    expect((await readLifecycleRun(engine.redis, engine.prefix, cancel.id))?.notUndone).toContain(
      'notify-oncall',
    );
    await expectHome(
      engine,
      plan.vms.map((v) => v.name),
      plan.source,
      plan.target,
    );
  });

  it('of a running failover: stops dispatching first, then rolls back what ran', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    engine = await startLifecycleEngine(plan, { catalog: fixtures.catalog });
    // Not pre-approved: the failover waits for the manual SAN check before the database.
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    for (;;) {
      const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${id}}:steps`);
      if (steps['action/confirm-san']?.startsWith('q|')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancel = await submitCancel(engine.redis, engine.prefix, id, engine.who);
    expect(cancel.pendingCancelOf).toBe(id);
    expect((await readLifecycle(engine.redis, engine.prefix, id)).pendingCancel?.id).toBe(cancel.id);
    const view = await settled(engine, cancel, 120_000);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    expect((await engine.client.get(id)).status).toBe('cancelled');
    const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${id}}:steps`);
    expect(decodeStepState(steps['action/confirm-san']).status).toBe('skipped');
    // Nothing was failed over after the cancel: no failover step ran, none is in the ledger.
    for (const vm of plan.vms) expect(steps[`${vm.name}/failover`]).toBeUndefined();
    expect(engine.world.truth().failovers).toEqual([]);
    const approve = await refusal(engine.client.approve(id, 'confirm-san', { by: 'late operator' }));
    expect(approve.code).not.toBe('');
    await expectHome(
      engine,
      plan.vms.map((v) => v.name),
      plan.source,
      plan.target,
    );
  });
});
