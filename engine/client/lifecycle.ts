/**
 * A failover's lifecycle operations as the engine runs them: commit, change of recovery point,
 * cancel, reprotect and failback, and what a follower reads of them. The control plane's routes
 * and the CLI's in-process path both call these, so a command answers the same on either path;
 * the sites are read through `hosts` (pre-flight), never changed here.
 */
import type { Redis } from 'ioredis';
import { DrError, InputError } from '../common/index.ts';
import {
  type DiscardDiverged,
  type ExecutionRecord,
  type LifecycleSubmitted,
  latestFailoverOf,
  loadExecution,
  recordRunningOldPrimaries,
  submitCancel,
  submitChangePoint,
  submitCommit,
  submitReprotect,
} from '../executor/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { HyperVReadApi } from '../preflight/index.ts';
import type { ExecutionClient } from './types.ts';

/** What the lifecycle operations work with. */
export interface LifecycleDeps {
  redis: Redis;
  prefix: string;
  /** The sites as pre-flight reads them (a host driver in process, the vault's inventory behind the API). */
  hosts: HyperVReadApi;
  /**
   * Reprotect's look for old primaries running again. @defaultValue read from `hosts.listVMs`
   * (no replication measure: the pending bytes of a divergence are then left unknown)
   */
  oldPrimaries?: OldPrimaryReader;
}

/** The reads reprotect's look for running old primaries needs. */
export type OldPrimaryReader = Pick<HostDriver, 'now' | 'getVM' | 'measureVMReplication'>;

/** Who asks and why; `dryRun` runs the pre-flight only and changes nothing. */
export interface LifecycleAsk {
  by: string;
  reason: string;
  dryRun?: boolean;
}

/** A plan-level operation names the plan's newest failover by the plan's name, or the failover itself. */
export type FailoverTarget =
  | { failover: string }
  | {
      plan: string;
      /** How the caller names the plan's file: refusals and hints name it. */
      file?: string;
    };

export interface ReprotectAsk extends Omit<LifecycleAsk, 'reason'> {
  /** @defaultValue `reprotect <plan> after <failover>` */
  reason?: string;
  /** Leave to overwrite what old primaries that ran in two sites wrote (needs a reason; recorded). */
  discardDiverged?: DiscardDiverged;
}

export interface ReprotectSubmitted extends LifecycleSubmitted {
  /** The failover it reprotects. */
  failover: string;
}

export interface FailbackAsk {
  by: string;
  /** @defaultValue `failback of <plan> after <failover>` */
  reason?: string;
  /** The plan to fail back (the file's, as the failover ran it), and its hash. */
  plan: RecoveryPlan;
  hash: string;
  /** The plan's YAML as the caller holds it: what a client of the control plane sends. */
  text?: string;
  approveManual?: boolean;
  /** Reverse replication to the original direction once every VM is home. @defaultValue true */
  thenReprotect?: boolean;
}

export interface FailbackSubmitted {
  id: string;
  epoch: number;
  stepsTotal: number;
  thenReprotect: boolean;
  /** The reprotected failover it fails back. */
  failover: string;
}

export async function commitFailover(
  deps: LifecycleDeps,
  failover: string,
  ask: LifecycleAsk & { partial?: boolean },
): Promise<LifecycleSubmitted> {
  return await submitCommit(deps.redis, deps.prefix, failover, {
    by: ask.by,
    reason: ask.reason,
    hosts: deps.hosts,
    ...(ask.dryRun ? { dryRun: true } : {}),
    ...(ask.partial ? { partial: true } : {}),
  });
}

export async function changeRecoveryPoint(
  deps: LifecycleDeps,
  failover: string,
  ask: LifecycleAsk & { recoveryPoint: RecoveryPointChoice },
): Promise<LifecycleSubmitted> {
  return await submitChangePoint(deps.redis, deps.prefix, failover, {
    by: ask.by,
    reason: ask.reason,
    recoveryPoint: ask.recoveryPoint,
    hosts: deps.hosts,
    ...(ask.dryRun ? { dryRun: true } : {}),
  });
}

export async function cancelFailover(
  deps: LifecycleDeps,
  failover: string,
  ask: LifecycleAsk,
): Promise<LifecycleSubmitted> {
  return await submitCancel(deps.redis, deps.prefix, failover, {
    by: ask.by,
    reason: ask.reason,
    hosts: deps.hosts,
    ...(ask.dryRun ? { dryRun: true } : {}),
  });
}

/**
 * Reverse the replication of what the failover brought up. With the sites at hand, an old primary
 * running again now is recorded as a divergence first (never on a dry run).
 */
export async function reprotectFailover(
  deps: LifecycleDeps,
  target: FailoverTarget,
  ask: ReprotectAsk,
): Promise<ReprotectSubmitted> {
  const { id, plan } = await failoverOf(deps, target, 'reprotect');
  if (!ask.dryRun)
    await recordRunningOldPrimaries(
      deps.oldPrimaries ?? oldPrimariesFromInventory(deps.hosts),
      deps.redis,
      deps.prefix,
      id,
    );
  const submitted = await submitReprotect(deps.redis, deps.prefix, id, {
    by: ask.by,
    reason: ask.reason ?? `reprotect ${plan} after ${id}`,
    hosts: deps.hosts,
    ...(ask.discardDiverged ? { discardDiverged: ask.discardDiverged } : {}),
    ...(ask.dryRun ? { dryRun: true } : {}),
  });
  return { ...submitted, failover: id };
}

/**
 * A planned failover back to the original site of a reprotected failover, behind the failover's
 * pre-flight (`submit`: an ExecutionClient that reads the same sites); with `thenReprotect` the
 * engine reverses replication once every VM is home, whatever happens to the caller.
 */
export async function failBack(
  deps: LifecycleDeps & { submit: ExecutionClient['submit'] },
  target: FailoverTarget,
  ask: FailbackAsk,
): Promise<FailbackSubmitted> {
  const where = 'file' in target && target.file !== undefined ? `${target.file}: ` : '';
  const name = ask.plan.metadata.name;
  if ('plan' in target && target.plan !== name)
    throw new InputError('PLAN_MISMATCH', `${where}the plan given is ${name}, not ${target.plan}`);
  const last =
    'failover' in target
      ? (await loadExecution(deps.redis, deps.prefix, target.failover)).record
      : await latestFailoverOf(deps.redis, deps.prefix, name);
  if (last === undefined || last.direction !== 'forward' || last.status !== 'reprotected') {
    const file = 'file' in target && target.file !== undefined ? target.file : '<plan file>';
    throw new InputError(
      'NOT_REPROTECTED',
      last === undefined
        ? `${where}plan ${name} has not failed over; there is nothing to fail back`
        : last.direction === 'failback'
          ? `${where}plan ${name} already failed back (${last.id}, ${last.status})`
          : `${where}the failover ${last.id} of ${name} is ${last.status}; a failback needs the replication reversed first: \`drctl reprotect ${file}\``,
    );
  }
  if (last.planName !== name)
    throw new InputError('PLAN_MISMATCH', `failover ${last.id} ran plan ${last.planName}, not ${name}`);
  const thenReprotect = ask.thenReprotect ?? true;
  const submitted = await deps.submit({
    type: 'planned',
    direction: 'failback',
    plan: ask.plan,
    hash: ask.hash,
    by: ask.by,
    reason: ask.reason ?? `failback of ${name} after ${last.id}`,
    ...(thenReprotect ? { thenReprotect: true } : {}),
    ...(ask.approveManual ? { approveManual: true } : {}),
  });
  return {
    id: submitted.id,
    epoch: submitted.epoch,
    stepsTotal: submitted.stepsTotal,
    thenReprotect,
    failover: last.id,
  };
}

/** The failover a plan-level operation acts on: the plan's newest one, or the one named. */
async function failoverOf(
  deps: LifecycleDeps,
  target: FailoverTarget,
  what: string,
): Promise<{ id: string; plan: string; record: ExecutionRecord }> {
  if ('failover' in target) {
    const { record } = await loadExecution(deps.redis, deps.prefix, target.failover);
    return { id: record.id, plan: record.planName, record };
  }
  const record = await latestFailoverOf(deps.redis, deps.prefix, target.plan);
  if (record === undefined) {
    const where = target.file === undefined ? '' : `${target.file}: `;
    throw new InputError(
      'NO_FAILOVER',
      `${where}plan ${target.plan} has no failover to ${what} (\`drctl status\`)`,
    );
  }
  return { id: record.id, plan: target.plan, record };
}

/**
 * Reprotect's look for running old primaries from an inventory that only lists VMs (the control
 * plane's): a VM is read from its site's list; its replication is not measured.
 */
export function oldPrimariesFromInventory(hosts: HyperVReadApi): OldPrimaryReader {
  return {
    now: () => hosts.now(),
    getVM: async (site, vm) => {
      const found = (await hosts.listVMs(site)).find((v) => v.name === vm);
      if (found === undefined)
        throw new DrError('VM_NOT_FOUND', `no VM ${vm} in the inventory of ${site}`, { exitCode: 2 });
      return found;
    },
    measureVMReplication: () =>
      Promise.reject(new DrError('NOT_MEASURED', 'the inventory does not measure replication')),
  };
}
