import { afterEach, describe, expect, it } from 'vitest';
import { decodeStepState, readEvents, submitChangePoint, submitCommit } from '../../engine/executor/index.ts';
import type { HostDriver } from '../../engine/hosts/index.ts';
import { SimError, worldForPlan } from '../../simulators/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { judgeClaim } from '../support/judge.ts';
import {
  failOverFromLostSource,
  type LifecycleEngine,
  refusal,
  settled,
  smallPlan,
  startLifecycleEngine,
  vmAt,
} from './support.ts';

let engine: LifecycleEngine | undefined;

afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('change of recovery point before commit', () => {
  it('fails the VMs over again from an older point; its data-loss claim stands before the ledger; commit follows', async () => {
    const { plan, hash } = smallPlan('cp1');
    engine = await startLifecycleEngine(plan);
    const world = engine.world;
    world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
    const { id } = await engine.client.submit({
      type: 'unplanned',
      plan,
      hash,
      reason: 'east lost',
      recoveryPoint: { kind: 'latest' },
    });
    const first = await waitForStatus(engine.client, id, ['completed', 'failed']);
    expect(first.status).toBe('completed');
    const before = new Map((first.dataLoss ?? []).map((d) => [d.vm, d.windowMs]));

    // Ransomware replicated: go back two hours.
    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'at', at },
    });
    expect((await engine.client.get(id)).status).toBe('changing-point');
    const view = await settled(engine, change);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');

    const truth = world.truth();
    for (const vm of plan.vms) {
      const records = truth.failovers.filter((f) => f.vm === vm.name && f.kind !== 'test');
      expect(records).toHaveLength(2);
      expect(records[0]?.cancelledAt).toBeDefined();
      const current = records[1];
      expect(current?.cancelledAt).toBeUndefined();
      expect(Date.parse(current?.recoveryPoint.time ?? '')).toBeLessThanOrEqual(Date.parse(at));
      const entry = view.dataLoss?.find((d) => d.vm === vm.name);
      if (entry === undefined || current === undefined) throw new Error(`no claim or record for ${vm.name}`);
      expect(judgeClaim(entry, current, { intervalMs: 30_000, writeGapMs: 100 })).toEqual([]);
      expect(entry.recoveryPointTime).toBe(current.recoveryPoint.time);
      expect(entry.windowMs).toBeGreaterThan(before.get(vm.name) ?? Number.POSITIVE_INFINITY);
      expect(truth.vms[vm.name]?.primarySites).toEqual([plan.target]);
      const replica = await vmAt(engine, plan.target, vm.name);
      expect(replica.state).toBe('Running');
    }
    expect(truth.splitBrain).toEqual([]);
    const failover = await engine.client.get(id);
    expect(failover.status).toBe('completed');
    expect(new Map((failover.dataLoss ?? []).map((d) => [d.vm, d]))).toEqual(
      new Map((view.dataLoss ?? []).map((d) => [d.vm, d])),
    );

    const commit = await submitCommit(engine.redis, engine.prefix, id, engine.who);
    expect((await settled(engine, commit)).status).toBe('completed');
    for (const vm of plan.vms)
      expect((await vmAt(engine, plan.target, vm.name)).replication?.state).toBe('FailedOver');
  });

  it('refuses while the failover runs and a second change while one runs', async () => {
    const { plan, hash } = smallPlan('cp2');
    engine = await startLifecycleEngine(plan, { orchestrator: false });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    const running = await refusal(
      submitChangePoint(engine.redis, engine.prefix, id, {
        ...engine.who,
        recoveryPoint: { kind: 'latest' },
      }),
    );
    expect(running.code).toBe('FAILOVER_RUNNING');
    await engine.startOrchestrator();
    await waitForStatus(engine.client, id, ['completed']);
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'latestProcessed' },
    });
    // The same operation again is answered with the one in progress; another kind is refused.
    expect(
      await submitChangePoint(engine.redis, engine.prefix, id, {
        ...engine.who,
        recoveryPoint: { kind: 'latest' },
      }),
    ).toEqual({ id: change.id, created: false });
    const busy = await refusal(submitCommit(engine.redis, engine.prefix, id, engine.who));
    expect(busy.code).toBe('LIFECYCLE_BUSY');
    // A crash between moving the failover and storing its change: asking again stores it, with
    // the point first asked for (not the one asked the second time).
    await engine.redis.del(
      `${engine.prefix}:{exec:${change.id}}:meta`,
      `${engine.prefix}:{exec:${change.id}}:plan`,
    );
    const again = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'latest' },
    });
    expect(again).toMatchObject({ id: change.id, created: true });
    expect((await engine.client.get(change.id)).recoveryPoint).toEqual({ kind: 'latestProcessed' });
    await engine.startOrchestrator();
    expect((await settled(engine, change)).status).toBe('completed');
  });

  it('a host crash during the change stops only the VMs after it: they run on, on their old point', async () => {
    // Regression (issue 10): every VM was reverted first, so a failure on one left the VMs that
    // depend on it off in both sites. One VM per host, so a crash takes one VM.
    const { plan, hash } = smallPlan('cp3');
    const world = worldForPlan(plan, { clock: { mode: 'scaled', speed: 2000 }, vmSlotsPerHost: 1 });
    engine = await startLifecycleEngine(plan, { world });
    const id = await failOverFromLostSource(engine, plan, hash);
    const before = new Map<string, string | undefined>();
    for (const vm of plan.vms)
      before.set(vm.name, (await vmAt(engine, plan.target, vm.name)).recoveryPoint?.id);
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;

    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'at', at },
    });
    expect(change.preflight?.ok).toBe(true);
    // Accepted; then the database's host dies before the change runs.
    const dbHost = (await vmAt(engine, plan.target, 'cp3-db')).host;
    world.fault({ kind: 'host-crash', site: plan.target, host: dbHost });
    await engine.startOrchestrator();
    const view = await settled(engine, change);
    expect(view.status).toBe('failed');

    const truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of ['cp3-app1', 'cp3-app2']) {
      expect(truth.vms[vm]?.primarySites, vm).toEqual([plan.target]);
      const replica = await vmAt(engine, plan.target, vm);
      expect(replica.state).toBe('Running');
      expect(replica.recoveryPoint?.id).toBe(before.get(vm));
      expect(truth.failovers.filter((f) => f.vm === vm && f.cancelledAt !== undefined)).toEqual([]);
    }
    // The database went down with its host, not because of the change: still failed over there.
    expect(truth.failovers.filter((f) => f.vm === 'cp3-db' && f.cancelledAt !== undefined)).toEqual([]);
  });

  it('when the failover from the new point fails, the VM is put back on its old point and started', async () => {
    const { plan, hash } = smallPlan('cp4');
    const broken = 'cp4-app2';
    // The target host refuses app2's failover from a point in time (after its revert ran).
    const refuseAt = (api: HostDriver): HostDriver =>
      new Proxy(api, {
        get(target, key, receiver) {
          if (key !== 'startVMFailover') return Reflect.get(target, key, receiver);
          return (req: Parameters<HostDriver['startVMFailover']>[0]) =>
            req.vm === broken && req.recoveryPoint?.kind === 'at'
              ? Promise.reject(new SimError('HOST_DOWN', `host of '${broken}' stopped answering`))
              : target.startVMFailover(req);
        },
      });
    engine = await startLifecycleEngine(plan, { workerApi: refuseAt });
    const world = engine.world;
    const id = await failOverFromLostSource(engine, plan, hash);
    const old = (await vmAt(engine, plan.target, broken)).recoveryPoint;

    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'at', at },
    });
    expect((await settled(engine, change)).status).toBe('failed');
    const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${change.id}}:steps`);
    expect(decodeStepState(steps[`${broken}/change-point`]).status).toBe('failed');
    const finished = (await readEvents(engine.redis, engine.prefix, change.id)).find(
      ({ event }) => event.type === 'step-finished' && event.step === `${broken}/change-point`,
    )?.event;
    expect(finished?.type === 'step-finished' ? finished.error?.code : undefined).toBe('CHANGE_POINT_FAILED');

    const truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of plan.vms) expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
    const back = await vmAt(engine, plan.target, broken);
    expect(back.replication?.state).toBe('FailedOverWaitingCompletion');
    expect(back.recoveryPoint?.id).toBe(old?.id);
    expect(['Starting', 'Running']).toContain(back.state);
    // The others changed to the point asked for.
    for (const vm of ['cp4-db', 'cp4-app1'])
      expect(Date.parse((await vmAt(engine, plan.target, vm)).recoveryPoint?.time ?? '')).toBeLessThanOrEqual(
        Date.parse(at),
      );
  });

  it('when the VM does not boot from the new point, it is put back on its old point and started', async () => {
    const { plan, hash } = smallPlan('cp5');
    const broken = 'cp5-app1';
    let original: string | undefined;
    // Start-VM of app1 fails from any other point than the one it first failed over to.
    const unbootable = (api: HostDriver): HostDriver =>
      new Proxy(api, {
        get(target, key, receiver) {
          if (key !== 'startVM') return Reflect.get(target, key, receiver);
          return async (req: Parameters<HostDriver['startVM']>[0]) => {
            const view = await target.getVM(req.site, req.vm);
            if (req.vm === broken && original !== undefined && view.recoveryPoint?.id !== original)
              throw new SimError('INVALID_STATE', `'${broken}' could not be started: its disk is unreadable`);
            return await target.startVM(req);
          };
        },
      });
    engine = await startLifecycleEngine(plan, { workerApi: unbootable });
    const world = engine.world;
    const id = await failOverFromLostSource(engine, plan, hash);
    original = (await vmAt(engine, plan.target, broken)).recoveryPoint?.id;
    expect(original).toBeDefined();

    const at = new Date(Date.parse(await world.api.now()) - 2 * 3_600_000).toISOString();
    const change = await submitChangePoint(engine.redis, engine.prefix, id, {
      ...engine.who,
      recoveryPoint: { kind: 'at', at },
    });
    expect((await settled(engine, change)).status).toBe('failed');
    const finished = (await readEvents(engine.redis, engine.prefix, change.id)).find(
      ({ event }) => event.type === 'step-finished' && event.step === `${broken}/boot`,
    )?.event;
    const error = finished?.type === 'step-finished' ? finished.error : undefined;
    expect(error?.code).toBe('CHANGE_POINT_FAILED');
    expect(error?.message).toContain('put back');

    const truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of plan.vms) expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
    const back = await vmAt(engine, plan.target, broken);
    expect(back.recoveryPoint?.id).toBe(original);
    expect(['Starting', 'Running']).toContain(back.state);
  });
});
