/**
 * `drctl protect` as an engine operation (issue 10): before, the CLI process called
 * Set-VM -AutomaticStartAction on the hosts itself, outside any execution, lock or event log.
 * Now a protect is an execution whose `<vm>/protect` steps are jobs on the queue of the site where
 * each VM runs as the primary, carried out by that site's worker, with real Redis and real
 * workers here; the simulator counts every mutating call and is the judge.
 */
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bullOptions,
  createQueueConnection,
  type ProtectRequest,
  protectRows,
  siteQueueName,
  startSiteWorkers,
  submitCommit,
  submitProtect,
  submitReprotect,
} from '../../engine/executor/index.ts';
import type { HostDriver } from '../../engine/hosts/index.ts';
import { acquireLocks, readLocks, releaseLocks } from '../../engine/locks/index.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { executionEvents, silent } from '../engine/support.ts';
import { type LifecycleEngine, refusal, settled, smallPlan, startLifecycleEngine } from './support.ts';

const { plan, hash } = smallPlan('prot');
const VMS = plan.vms.map((v) => v.name);

let engine: LifecycleEngine | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await engine?.close();
  engine = undefined;
});

/** One host per VM at each site, so one host can be down while the others answer. */
async function start(
  workerSites: string[] = [plan.source, plan.target, 'control'],
): Promise<LifecycleEngine> {
  const world = worldForPlan(plan, {
    vmSlotsPerHost: 1,
    clock: { mode: 'scaled', speed: 2000 },
    warmupMs: 3_600_000,
  });
  engine = await startLifecycleEngine(plan, { world, workerSites });
  return engine;
}

function request(live: LifecycleEngine, extra: Partial<ProtectRequest> = {}): ProtectRequest {
  return {
    plan,
    hash,
    action: 'Nothing',
    by: 'tester',
    reason: 'protect test',
    hosts: live.world.api,
    ...extra,
  };
}

/** Every mutating call the hosts were asked for (accepted or not), per VM, site and operation. */
function mutations(live: LifecycleEngine) {
  return structuredClone(live.world.truth().mutations);
}

function setCalls(live: LifecycleEngine, vm: string, site: string): number {
  return live.world.truth().mutations[vm]?.[site]?.setVMAutomaticStartAction ?? 0;
}

/** A site worker whose host calls are recorded, to tell which process made them. */
function recordingWorker(live: LifecycleEngine, site: string): { calls: string[] } {
  const calls: string[] = [];
  const api = new Proxy(live.world.api, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== 'setVMAutomaticStartAction' || typeof value !== 'function') return value;
      return (req: { site: string; vm: string }) => {
        calls.push(`${req.vm}@${req.site}`);
        return value.call(target, req);
      };
    },
  }) as HostDriver;
  const workers = startSiteWorkers({
    redisUrl: live.redisUrl,
    prefix: live.prefix,
    site,
    api,
    logger: silent,
  });
  cleanups.push(() => workers.close(2000));
  return { calls };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('drctl protect as an execution', { timeout: 120_000 }, () => {
  it("runs one job per VM on the queue of the primary's site, carried out by that site's worker", async () => {
    // No worker of the source site yet: whatever sets the action must wait for one.
    const live = await start([plan.target, 'control']);
    const epochs = new Map<string, number>();
    for (const vm of VMS) epochs.set(vm, (await live.world.api.getVM(plan.source, vm)).epoch);
    const submitted = await submitProtect(live.redis, live.prefix, request(live));
    expect(submitted.placement).toEqual(
      VMS.map((vm) => ({ vm, site: plan.source, basis: `runs as the primary at ${plan.source}` })),
    );

    const connection = createQueueConnection(live.redisUrl, { name: 'protect-test-queue' });
    const queue = new Queue(siteQueueName(plan.source), { connection, ...bullOptions(live.prefix) });
    const other = new Queue(siteQueueName(plan.target), { connection, ...bullOptions(live.prefix) });
    cleanups.push(async () => {
      await queue.close();
      await other.close();
      await connection.quit();
    });
    await until('the protect job waits on the source queue', async () => (await queue.getWaitingCount()) > 0);
    const waiting = await queue.getJobs(['waiting']);
    const units = waiting.flatMap((job) => (job.data as { units: { steps: string[] }[] }).units);
    expect(units.map((u) => u.steps).sort()).toEqual(VMS.map((vm) => [`${vm}/protect`]).sort());
    expect(waiting.every((job) => job.data.automaticStartAction === 'Nothing')).toBe(true);
    expect(await other.getJobs(['waiting', 'active', 'completed'])).toEqual([]);
    // Nothing reached the hosts: the submitter only read where the primaries run.
    for (const vm of VMS) expect(setCalls(live, vm, plan.source)).toBe(0);
    expect((await live.client.get(submitted.id)).status).toBe('running');

    const source = recordingWorker(live, plan.source);
    const view = await settled(live, { id: submitted.id, created: true });
    expect(view.status).toBe('completed');
    expect(view.by).toBe('tester');
    expect(view.reason).toBe('protect test');
    expect(source.calls.sort()).toEqual(VMS.map((vm) => `${vm}@${plan.source}`).sort());
    for (const vm of VMS) {
      const now = await live.world.api.getVM(plan.source, vm);
      expect(now.automaticStartAction, vm).toBe('Nothing');
      // The VM's own epoch was carried: a failover's late fence still outranks it.
      expect(now.epoch, vm).toBe(epochs.get(vm));
    }
    expect(await protectRows(live.redis, live.prefix, submitted.id)).toEqual(
      VMS.map((vm) => ({ vm, site: plan.source, before: 'StartIfRunning', after: 'Nothing', changed: true })),
    );
    // Auditable: the log says who asked, and each VM's action before and after.
    const events = await executionEvents(live, submitted.id);
    expect(events[0]).toMatchObject({ type: 'execution-submitted', executionType: 'protect', by: 'tester' });
    for (const vm of VMS)
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'step-finished',
          step: `${vm}/protect`,
          site: plan.source,
          outcome: 'done',
          output: expect.objectContaining({ before: 'StartIfRunning', after: 'Nothing', changed: true }),
        }),
      );
    // Its locks go with its end.
    expect((await readLocks(live.redis, live.prefix, VMS)).size).toBe(0);
  });

  it('a VM whose host is down fails with the host answer; the others are set', async () => {
    const live = await start();
    const down = VMS[1] ?? '';
    const host = (await live.world.api.getVM(plan.source, down)).host;
    live.world.fault({ kind: 'host-crash', site: plan.source, host });
    const submitted = await submitProtect(live.redis, live.prefix, request(live, { action: 'Start' }));
    // Not listed at the source (its host is down): its replica names the source as its primary's site.
    expect(submitted.placement.find((p) => p.vm === down)?.site).toBe(plan.source);
    const view = await settled(live, { id: submitted.id, created: true });
    expect(view.status).toBe('failed');
    const rows = await protectRows(live.redis, live.prefix, submitted.id);
    const failed = rows.find((r) => r.vm === down);
    expect(failed).toMatchObject({
      vm: down,
      site: plan.source,
      changed: false,
      error: { code: 'HOST_DOWN' },
    });
    expect(failed?.error?.message).toContain(host);
    for (const row of rows.filter((r) => r.vm !== down)) {
      expect(row).toEqual({
        vm: row.vm,
        site: plan.source,
        before: 'StartIfRunning',
        after: 'Start',
        changed: true,
      });
      expect((await live.world.api.getVM(plan.source, row.vm)).automaticStartAction).toBe('Start');
    }
    // Failed or not, it ended: the VMs are free for the next operation.
    expect((await readLocks(live.redis, live.prefix, VMS)).size).toBe(0);
  });

  it('a re-run makes no mutating call', async () => {
    const live = await start();
    const first = await submitProtect(live.redis, live.prefix, request(live));
    expect((await settled(live, { id: first.id, created: true })).status).toBe('completed');
    const before = mutations(live);
    const again = await submitProtect(live.redis, live.prefix, request(live));
    expect(again.id).not.toBe(first.id);
    expect((await settled(live, { id: again.id, created: true })).status).toBe('completed');
    expect(mutations(live)).toEqual(before);
    expect(await protectRows(live.redis, live.prefix, again.id)).toEqual(
      VMS.map((vm) => ({ vm, site: plan.source, before: 'Nothing', after: 'Nothing', changed: false })),
    );
  });

  it('refuses a VM another execution owns, naming it, and changes nothing', async () => {
    const live = await start();
    const owner = {
      execution: 'drill-20260101-000000-abcdef',
      plan: plan.metadata.name,
      vms: [VMS[0] ?? ''],
    };
    expect((await acquireLocks(live.redis, live.prefix, { ...owner, operation: 'test' })).ok).toBe(true);
    const before = mutations(live);
    const refused = await refusal(submitProtect(live.redis, live.prefix, request(live)));
    expect(refused.exitCode).toBe(2);
    expect(['PLAN_LOCKED', 'VM_LOCKED']).toContain(refused.code);
    expect(refused.message).toContain(owner.execution);
    expect(refused.message).toContain(`drctl cleanup ${owner.execution}`);
    expect(mutations(live)).toEqual(before);
    // Nothing stored, and the owner's locks untouched.
    expect((await live.client.list()).filter((e) => e.type === 'protect')).toEqual([]);
    expect((await readLocks(live.redis, live.prefix, VMS)).get(VMS[0] ?? '')?.execution).toBe(
      owner.execution,
    );
    await releaseLocks(live.redis, live.prefix, owner);
    const after = await submitProtect(live.redis, live.prefix, request(live));
    expect((await settled(live, { id: after.id, created: true })).status).toBe('completed');
  });

  it("refuses while the plan's failover is in a lifecycle operation (they take no locks), naming it", async () => {
    const live = await start();
    const { id } = await live.client.submit({ type: 'planned', plan, hash, reason: 'move' });
    expect((await settled(live, { id, created: true })).status).toBe('completed');
    // No orchestrator runs the commit: the failover stays `committing` while the protect asks.
    await live.orchestrator?.close(5000);
    live.orchestrator = undefined;
    const commit = await submitCommit(live.redis, live.prefix, id, live.who);
    const before = mutations(live);
    const refused = await refusal(submitProtect(live.redis, live.prefix, request(live)));
    expect(refused).toMatchObject({ code: 'LIFECYCLE_BUSY', exitCode: 2 });
    expect(refused.message).toContain(commit.id);
    expect(mutations(live)).toEqual(before);
  });

  it('a VM whose site cannot be read gets no step (nor locks); one that runs elsewhere is still set', async () => {
    const live = await start();
    // db moves to the target for good (planned failover, commit, reprotect): its primary runs there.
    const [db = '', ...others] = VMS;
    const moved = await live.client.submit({
      type: 'planned',
      plan,
      hash,
      reason: 'move db',
      selection: { vms: [db] },
    });
    expect((await settled(live, { id: moved.id, created: true })).status).toBe('completed');
    expect(
      (await settled(live, await submitCommit(live.redis, live.prefix, moved.id, live.who))).status,
    ).toBe('completed');
    expect(
      (await settled(live, await submitReprotect(live.redis, live.prefix, moved.id, live.who))).status,
    ).toBe('completed');
    live.world.fault({ kind: 'site-power', site: plan.source, state: 'off' });

    const submitted = await submitProtect(live.redis, live.prefix, request(live));
    expect(submitted.placement).toEqual([
      { vm: db, site: plan.target, basis: `runs as the primary at ${plan.target}` },
    ]);
    expect(submitted.leftOut.map((l) => [l.vm, l.site, l.code])).toEqual(
      others.map((vm) => [vm, plan.source, 'SITE_UNREACHABLE']),
    );
    // Only what it acts on is held: the others are free for a failover while it runs.
    expect([...(await readLocks(live.redis, live.prefix, VMS)).keys()]).toEqual([db]);
    expect((await settled(live, { id: submitted.id, created: true })).status).toBe('completed');
    const rows = await protectRows(live.redis, live.prefix, submitted.id);
    // A reprotect's new primary starts with its own action: protect after a reprotect matters.
    expect(rows[0]).toEqual({
      vm: db,
      site: plan.target,
      before: 'StartIfRunning',
      after: 'Nothing',
      changed: true,
    });
    for (const vm of others)
      expect(rows.find((r) => r.vm === vm)).toMatchObject({
        vm,
        site: plan.source,
        error: { code: 'SITE_UNREACHABLE' },
      });

    // No VM placeable at all: refused, nothing stored or held.
    const refused = await refusal(submitProtect(live.redis, live.prefix, request(live, { vms: others })));
    expect(refused).toMatchObject({ code: 'SITES_UNREADABLE', exitCode: 1 });
    for (const vm of others) expect(refused.message).toContain(vm);
    expect((await readLocks(live.redis, live.prefix, VMS)).size).toBe(0);
  });
});
