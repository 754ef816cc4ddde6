import { afterEach, describe, expect, it } from 'vitest';
import { readLifecycle, submitCancel, submitChangePoint, submitCommit } from '../../engine/executor/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { type LifecycleEngine, refusal, settled, smallPlan, startLifecycleEngine, vmAt } from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('commit', () => {
  it('completes every failed-over VM (other recovery points gone) and passes the point of no return', async () => {
    const { plan, hash } = smallPlan('c1');
    engine = await startLifecycleEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');

    const commit = await submitCommit(engine.redis, engine.prefix, id, engine.who);
    expect(commit.created).toBe(true);
    expect((await settled(engine, commit)).status).toBe('completed');
    for (const vm of plan.vms) {
      const view = await vmAt(engine, plan.target, vm.name);
      expect(view.replication?.state).toBe('FailedOver');
      expect(view.state).toBe('Running');
      expect(await engine.world.api.getRecoveryPoints(plan.target, vm.name)).toEqual([]);
    }
    const failover = await engine.client.get(id, { vms: true });
    expect(failover.status).toBe('committed');
    expect(Object.values(failover.vms ?? {})).toEqual(plan.vms.map(() => 'committed'));
    expect((await readLifecycle(engine.redis, engine.prefix, id)).committed).toEqual(
      plan.vms.map((v) => v.name),
    );

    // Asking again is answered with the commit that ran.
    expect(await submitCommit(engine.redis, engine.prefix, id, engine.who)).toEqual({
      id: commit.id,
      created: false,
    });
    // Past the point of no return: no cancel, no change of point; both say what to do instead.
    const cancel = await refusal(submitCancel(engine.redis, engine.prefix, id, engine.who));
    expect(cancel.code).toBe('PAST_POINT_OF_NO_RETURN');
    expect(cancel.exitCode).toBe(2);
    expect(cancel.message).toContain('drctl failback');
    const change = await refusal(
      submitChangePoint(engine.redis, engine.prefix, id, {
        ...engine.who,
        recoveryPoint: { kind: 'latest' },
      }),
    );
    expect(change.code).toBe('PAST_POINT_OF_NO_RETURN');
  });

  it('with a VM that failed: refuses and names it; --partial commits the others and records them', async () => {
    const { plan, hash } = smallPlan('c2');
    engine = await startLifecycleEngine(plan);
    const broken = 'c2-app2';
    engine.world.fault({ kind: 'boot', vm: broken, site: plan.target, mode: 'fail' });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('failed');

    const refused = await refusal(submitCommit(engine.redis, engine.prefix, id, engine.who));
    expect(refused.code).toBe('COMMIT_PARTIAL');
    expect(refused.exitCode).toBe(2);
    expect(refused.message).toContain(broken);
    expect(refused.message).toContain('--partial');
    // Nothing was committed by the refusal.
    expect((await vmAt(engine, plan.target, 'c2-db')).replication?.state).toBe('FailedOverWaitingCompletion');
    expect((await engine.client.get(id)).status).toBe('failed');

    const commit = await submitCommit(engine.redis, engine.prefix, id, { ...engine.who, partial: true });
    expect(commit.run?.partial).toBe(true);
    expect(commit.run?.vms).toEqual(['c2-db', 'c2-app1']);
    expect(commit.run?.skipped.map((s) => s.vm)).toEqual([broken]);
    expect((await settled(engine, commit)).status).toBe('completed');
    expect((await vmAt(engine, plan.target, 'c2-db')).replication?.state).toBe('FailedOver');
    expect((await vmAt(engine, plan.target, 'c2-app1')).replication?.state).toBe('FailedOver');
    // The VM left out keeps its recovery points, uncommitted.
    expect((await vmAt(engine, plan.target, broken)).replication?.state).toBe('FailedOverWaitingCompletion');
    const info = await readLifecycle(engine.redis, engine.prefix, id);
    expect(info.committed).toEqual(['c2-db', 'c2-app1']);
    expect(info.notCommitted?.map((n) => n.vm)).toEqual([broken]);
    expect((await engine.client.get(id)).status).toBe('committed');
  });

  it('refuses what is not a failover, and a failover still running', async () => {
    const { plan, hash } = smallPlan('c3');
    engine = await startLifecycleEngine(plan);
    const drill = await engine.client.submit({ type: 'test', plan, hash, reason: 'drill' });
    await waitForStatus(engine.client, drill.id, ['awaiting-cleanup', 'failed']);
    const notFailover = await refusal(submitCommit(engine.redis, engine.prefix, drill.id, engine.who));
    expect(notFailover.code).toBe('NOT_A_FAILOVER');
    expect(notFailover.message).toContain('drctl cleanup');
    const missing = await refusal(submitCommit(engine.redis, engine.prefix, 'no-such-execution', engine.who));
    expect(missing.code).toBe('EXECUTION_NOT_FOUND');
  });
});
