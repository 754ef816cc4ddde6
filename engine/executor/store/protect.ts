/**
 * Submitting a protect (`drctl protect <plan> --automatic-start-action A`): an execution of its
 * own (id `protect-<time>-<hex>`) whose `<vm>/protect` steps set the automatic start action of
 * each primary, each on the queue of the site where that VM runs as the primary, carried out by
 * that site's workers (handlers/protect.ts). So it is durable (a dead CLI, orchestrator or worker
 * changes nothing), has its event log (each VM's action before and after) and is recorded with
 * who asked and why, like every other operation on the hosts.
 *
 * It reads the sites first (where each primary runs; nothing is changed through them). A VM whose
 * site cannot be read gets no step (`leftOut`, with the read's answer): no worker there would take
 * its job, and a job left waiting would hold its lock, and the plan's, against a failover. Then it
 * takes the plan lock and the VMs' locks (engine/locks), all or none, so it never acts on a VM
 * another execution owns: a drill until its cleanup, a failover while it runs. Refused, it names
 * the holders (exit 2, nothing changed). A failover's lifecycle operations hold no locks (its
 * machine orders them), so a protect is refused while one runs too. The locks go when it ends.
 */
import type { Redis } from 'ioredis';
import { DrError, InputError } from '../../common/index.ts';
import type { AutomaticStartActionName } from '../../contract/index.ts';
import type { VmView } from '../../hosts/index.ts';
import { acquireLocks, type LockConflict, persistLocks, releaseLocks } from '../../locks/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import type { HyperVReadApi } from '../../preflight/index.ts';
import { isPrimary } from '../handlers/protect.ts';
import { globalKeys } from '../keys.ts';
import type { ProtectInfo } from './execution-record.ts';
import { latestFailoverOf, readLifecycle, subsetPlan } from './lifecycle.ts';
import { newExecutionId, submitExecution } from './submit.ts';

/**
 * Lifetime of the locks between taking them and the stored execution: a submitter that dies in
 * that window frees the VMs after this long, not never (engine/client's submit does the same).
 */
const SUBMIT_LOCK_TTL_MS = 60_000;

export interface ProtectRequest {
  /** The plan (from its file); the execution stores the part it acts on. */
  plan: RecoveryPlan;
  /** Content hash of the plan (engine/plan's planHash). */
  hash: string;
  action: AutomaticStartActionName;
  /** Only these VMs of the plan. @defaultValue every VM of the plan */
  vms?: readonly string[];
  by: string;
  reason: string;
  /**
   * Read access to the sites (Get-VM of each VM, as listVMs gives it): where each VM runs as the
   * primary now, so its step goes to that site's queue. Nothing is changed through it.
   */
  hosts: Pick<HyperVReadApi, 'listVMs'>;
  /** Clock (ms). @defaultValue Date.now */
  now?: () => number;
}

/** Where a VM's step runs, and from what the submit placed it there. */
export interface ProtectPlacement {
  vm: string;
  site: string;
  basis: string;
  /** The listing of `site` failed: the VM gets no step (ProtectInfo.leftOut), with this answer. */
  unread?: { code: string; message: string };
}

export interface ProtectSubmitted {
  id: string;
  epoch: number;
  action: AutomaticStartActionName;
  /** The VMs given a step, and where. */
  placement: ProtectPlacement[];
  /** The VMs given none: their site could not be read (ProtectInfo.leftOut). */
  leftOut: NonNullable<ProtectInfo['leftOut']>;
}

const LIFECYCLE_RUNNING = ['committing', 'changing-point', 'cancelling', 'reprotecting'];

export async function submitProtect(
  redis: Redis,
  prefix: string,
  request: ProtectRequest,
): Promise<ProtectSubmitted> {
  const { plan } = request;
  const vms = selected(plan, request.vms);
  await refuseWhileLifecycleRuns(redis, prefix, plan.metadata.name);
  // Where each primary runs (reads only). A VM moved by another execution between this read and
  // the locks below is no primary at its step's site any more: its step fails NOT_PRIMARY.
  const placed = await placePrimaries(request.hosts, plan, vms);
  const placement = placed.filter((p) => p.unread === undefined);
  const leftOut = placed.flatMap((p) =>
    p.unread === undefined ? [] : [{ vm: p.vm, site: p.site, ...p.unread }],
  );
  if (placement.length === 0) throw unreachableError(plan, leftOut);
  const now = request.now ?? Date.now;
  const id = newExecutionId('protect', now());
  const held = { execution: id, plan: plan.metadata.name, vms: placement.map((p) => p.vm) };
  const acquired = await acquireLocks(redis, prefix, {
    ...held,
    operation: 'protect',
    ttlMs: SUBMIT_LOCK_TTL_MS,
    now: () => new Date(now()),
  });
  if (!acquired.ok) throw lockedError(plan, acquired.conflicts);
  let submitted: Awaited<ReturnType<typeof submitExecution>>;
  try {
    submitted = await submitExecution(redis, prefix, {
      id,
      type: 'protect',
      direction: 'forward',
      plan: subsetPlan(plan, held.vms),
      hash: request.hash,
      by: request.by,
      reason: request.reason,
      stepsTotal: held.vms.length,
      estimateMs: 500,
      protect: {
        action: request.action,
        sites: Object.fromEntries(placement.map((p) => [p.vm, p.site])),
        ...(leftOut.length > 0 ? { leftOut } : {}),
      },
      now,
    });
  } catch (error) {
    // Released only if the execution never became runnable: a stored one keeps its locks.
    const active = await redis.zscore(globalKeys(prefix).active, id).catch(() => null);
    if (active === null) await releaseLocks(redis, prefix, held).catch(() => undefined);
    throw error;
  }
  // One retry: a lock left with its TTL would expire under the running protect.
  await persistLocks(redis, prefix, held).catch(() => persistLocks(redis, prefix, held));
  return { id: submitted.id, epoch: submitted.epoch, action: request.action, placement, leftOut };
}

function unreachableError(plan: RecoveryPlan, leftOut: NonNullable<ProtectInfo['leftOut']>): DrError {
  const lines = leftOut.map((l) => `  ${l.vm} @${l.site}: ${l.code}: ${l.message}`);
  return new DrError(
    'SITES_UNREADABLE',
    `protect of plan ${plan.metadata.name}: no VM could be placed, nothing was changed; the sites where they run could not be read:\n${lines.join('\n')}\nrun it again once the site answers (its agent must be up to set the action)`,
    { retryable: true, details: { leftOut } },
  );
}

function selected(plan: RecoveryPlan, names: readonly string[] | undefined): string[] {
  const all = plan.vms.map((v) => v.name);
  if (names === undefined) return all;
  const known = new Set(all);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InputError(
      'UNKNOWN_VM',
      unknown.length > 0
        ? `${unknown.join(', ')} not in plan ${plan.metadata.name}`
        : 'name at least one VM to protect',
    );
  }
  return [...new Set(names)];
}

/** A failover of this plan in the middle of a lifecycle operation (they take no locks). */
async function refuseWhileLifecycleRuns(redis: Redis, prefix: string, planName: string): Promise<void> {
  const failover = await latestFailoverOf(redis, prefix, planName);
  if (failover === undefined || !LIFECYCLE_RUNNING.includes(failover.status)) return;
  const current = (await readLifecycle(redis, prefix, failover.id)).current ?? failover.id;
  throw new DrError(
    'LIFECYCLE_BUSY',
    `plan ${planName}: failover ${failover.id} is ${failover.status} (execution ${current}), which may move its VMs; protect once it has ended (\`drctl status ${current}\`)`,
    { exitCode: 2, retryable: true, details: { execution: current } },
  );
}

function lockedError(plan: RecoveryPlan, conflicts: readonly LockConflict[]): DrError {
  const lines = conflicts.map((c) => {
    const { holder } = c;
    const what = c.kind === 'plan' ? `plan ${c.name}` : `VM ${c.name}`;
    const op = holder.operation === undefined ? '' : `, ${holder.operation}`;
    return `  ${what} is held by execution ${holder.execution} (plan ${holder.plan}${op}${holder.since ? ` since ${holder.since}` : ''})`;
  });
  const drill = conflicts.find((c) => c.holder.operation === 'test');
  const hint = drill
    ? `a drill keeps its plan and VMs until its cleanup: \`drctl cleanup ${drill.holder.execution}\`, then protect`
    : 'wait for it to end (`drctl status <execution>`), or leave its VMs out (--vms); an operator frees a dead execution with `drctl locks release`';
  return new DrError(
    conflicts.some((c) => c.kind === 'vm') ? 'VM_LOCKED' : 'PLAN_LOCKED',
    `protect of plan ${plan.metadata.name} refused, nothing was changed: another execution owns what it would act on\n${lines.join('\n')}\n${hint}`,
    {
      exitCode: 2,
      retryable: true,
      details: { conflicts: conflicts.map((c) => ({ kind: c.kind, name: c.name, ...c.holder })) },
    },
  );
}

/**
 * Per VM, the site where its step runs: where a listing shows it as the primary (the plan's source
 * first, then its target: after a reprotect the primaries run there); else the primary site its
 * replica names (the primary's host is down or its site unreachable, so its step fails there
 * with the host's answer); else the plan's source.
 */
export async function placePrimaries(
  hosts: Pick<HyperVReadApi, 'listVMs'>,
  plan: RecoveryPlan,
  vms: readonly string[],
): Promise<ProtectPlacement[]> {
  const sites = [plan.source, plan.target];
  const listings = await Promise.all(
    sites.map(async (site) => {
      try {
        return { site, views: await hosts.listVMs(site) };
      } catch (error) {
        const code =
          typeof error === 'object' && error !== null && 'code' in error
            ? String(error.code)
            : 'SITE_UNREACHABLE';
        return {
          site,
          views: [] as VmView[],
          error: { code, message: error instanceof Error ? error.message : String(error) },
        };
      }
    }),
  );
  const byName = new Map<string, VmView[]>();
  for (const listing of listings)
    for (const view of listing.views) {
      if (view.isTest) continue;
      const list = byName.get(view.name) ?? [];
      list.push(view);
      byName.set(view.name, list);
    }
  const failed = new Map(
    listings.flatMap((l) => (l.error === undefined ? [] : [[l.site, l.error] as const])),
  );
  const unread = [...failed].map(([site, e]) => `${site}: ${e.code}: ${e.message}`);
  const place = (vm: string): ProtectPlacement => {
    const views = byName.get(vm) ?? [];
    const primary = views.find(isPrimary);
    if (primary) return { vm, site: primary.site, basis: `runs as the primary at ${primary.site}` };
    const replica = views.find((v) => v.replication !== null);
    const named = replica?.replication?.primarySite;
    if (replica && named)
      return {
        vm,
        site: named,
        basis: `not listed at ${named}; its replica at ${replica.site} names its primary there`,
      };
    return {
      vm,
      site: plan.source,
      basis: `listed at neither site${unread.length > 0 ? ` (${unread.join('; ')})` : ''}; read at the plan's source`,
    };
  };
  return vms.map((vm) => {
    const placed = place(vm);
    const error = failed.get(placed.site);
    return error === undefined ? placed : { ...placed, unread: error };
  });
}
