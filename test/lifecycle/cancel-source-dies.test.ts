import { afterEach, describe, expect, it } from 'vitest';
import { readEvents, submitCancel } from '../../engine/executor/index.ts';
import type { HostDriver } from '../../engine/hosts/index.ts';
import { readFailedOver } from '../../engine/locks/index.ts';
import { jobData, runJob } from '../handlers/support.ts';
import { type LifecycleEngine, settled, smallPlan, startLifecycleEngine, vmAt } from './support.ts';

let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

// Issue 10, "when it fails half-way, every VM still runs somewhere": a cancel turns each replica
// off (revert), then restarts its primary at the source (restore). A source that dies between the
// two used to leave the VM off in both sites until the source came back, and the cancel read
// "completed". Judged with the simulator's truth, not with what the engine says.
describe('cancel when the source site dies between a VM’s revert and its restore', () => {
  it('brings that VM back up at the target (once, never in two sites), and the cancel says so', async () => {
    const { plan, hash } = smallPlan('sd1');
    const [db, app1, app2] = plan.vms.map((v) => v.name) as [string, string, string];
    let cancelId: string | undefined;
    let armed = false;
    let reverted = false;
    let cut = false;
    // The source loses power at the moment app2's restore first reads it: its replica is off
    // (reverted), db and app1 are back at the source (their restores are recorded done).
    const cutAtRestore = (api: HostDriver): HostDriver =>
      new Proxy(api, {
        get(target, key, receiver) {
          if (key === 'stopVMFailover')
            return async (req: Parameters<HostDriver['stopVMFailover']>[0]) => {
              const out = await target.stopVMFailover(req);
              if (armed && req.vm === app2 && req.site === plan.target) reverted = true;
              return out;
            };
          if (key === 'getVM')
            return async (site: string, vm: string) => {
              if (reverted && !cut && site === plan.source && vm === app2) {
                cut = true;
                await restored(app1);
                engine?.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });
              }
              return await target.getVM(site, vm);
            };
          return Reflect.get(target, key, receiver);
        },
      });
    const restored = async (vm: string): Promise<void> => {
      for (;;) {
        const live = engine;
        if (live && cancelId) {
          const state = await live.redis.hget(`${live.prefix}:{exec:${cancelId}}:steps`, `${vm}/restore`);
          if (state?.startsWith('done')) return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    engine = await startLifecycleEngine(plan, { workerApi: cutAtRestore });
    const live = engine;
    const world = live.world;
    const { id } = await live.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    await settled(live, { id, created: true });
    armed = true;
    const ranFrom = (await vmAt(live, plan.target, app2)).recoveryPoint;
    expect(ranFrom).toBeDefined();

    const cancel = await submitCancel(live.redis, live.prefix, id, live.who);
    cancelId = cancel.id;
    const view = await settled(live, cancel, 120_000);
    expect(cut).toBe(true);

    // The truth: app2 runs at the target, and only there; db and app1 went down with the source.
    let truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    expect(truth.vms[app2]?.primarySites).toEqual([plan.target]);
    const back = await vmAt(live, plan.target, app2);
    expect(['Starting', 'Running']).toContain(back.state);
    expect(back.replication?.state).toBe('FailedOverWaitingCompletion');
    // From the point it ran from before the cancel (the latest: an empty cycle from the off
    // primary may have moved its time on), never an older one.
    expect(back.recoveryPoint?.id).toBe(ranFrom?.id);
    expect(Date.parse(back.recoveryPoint?.time ?? '')).toBeGreaterThanOrEqual(
      Date.parse(ranFrom?.time ?? ''),
    );
    for (const vm of [db, app1]) expect(truth.vms[vm]?.primarySites, vm).toEqual([]);

    // The cancel did not complete, and says for which VM, where each one is and what to do.
    expect(view.status).toBe('failed');
    expect(view.error).toContain(`${app2} runs at ${plan.target} again`);
    expect(view.error).toContain(`${db}, ${app1} back at ${plan.source}`);
    expect(view.error).toContain(`drctl cancel ${id}`);
    expect((await live.client.get(id)).status).toBe('failed');
    const events = (await readEvents(live.redis, live.prefix, cancel.id)).map((e) => e.event);
    const returned = events.find((e) => e.type === 'step-finished' && e.step === `${app2}/return`);
    expect(returned?.type === 'step-finished' ? returned.output : undefined).toMatchObject({
      returned: true,
    });
    const phase = events.find(
      (e) => e.type === 'vm-phase' && e.vm === app2 && e.site === plan.target && e.phase === 'ready',
    );
    expect(phase?.type === 'vm-phase' ? phase.detail : '').toMatch(/cancel did not complete/);
    for (const vm of [db, app1]) {
      const skipped = events.find((e) => e.type === 'step-finished' && e.step === `${vm}/return`);
      expect(skipped).toBeUndefined();
    }
    // The engine records it failed over again, under the return's epoch (newer than the cancel's).
    const record = (await readFailedOver(live.redis, live.prefix, [app2])).get(app2);
    expect(record).toMatchObject({ execution: cancel.id, site: plan.target });
    const cancelEpoch = Number(await live.redis.hget(`${live.prefix}:{exec:${cancel.id}}:meta`, 'epoch'));
    expect(record?.epoch).toBeGreaterThan(cancelEpoch);
    expect(back.epoch).toBe(record?.epoch);
    expect((await readFailedOver(live.redis, live.prefix, [db, app1])).size).toBe(0);

    // The source comes back: db and app1 start there by themselves (they ran when it lost power),
    // app2's old primary stays off; the cancel's restore of app2, run again late (a stale job
    // under the cancel's epoch), reads the replica first and leaves the primary off.
    world.fault({ kind: 'site-power', site: plan.source, state: 'on' });
    const stale = await runJob(
      world.api,
      jobData('cancel', plan.source, [`${app2}/restore`], {
        execution: cancel.id,
        vm: app2,
        epoch: cancelEpoch,
      }),
    );
    expect(stale.result.steps[0]?.outcome).toBe('failed');
    expect(stale.result.steps[0]?.error?.code).toBe('RUNS_AT_TARGET');
    expect((await vmAt(live, plan.source, app2)).state).toBe('Off');
    truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    expect(truth.vms[app2]?.primarySites).toEqual([plan.target]);

    // The operator's way on: cancel again once the source is back; every VM is home.
    const again = await submitCancel(live.redis, live.prefix, id, live.who);
    expect(again.created).toBe(true);
    const second = await settled(live, again, 120_000);
    expect(second.error).toBeUndefined();
    expect(second.status).toBe('completed');
    truth = world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of [db, app1, app2]) expect(truth.vms[vm]?.primarySites, vm).toEqual([plan.source]);
  });
});
