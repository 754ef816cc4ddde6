import type { Redis } from 'ioredis';
import { acquireLocks, createLockReader, type LockConflict } from '../locks/index.ts';
import { type PreflightInput, runPreflight } from './run.ts';
import type { Blocker, PreflightReport } from './types.ts';

export interface GateInput extends Omit<PreflightInput, 'locks' | 'execution'> {
  redis: Redis;
  /** Key prefix of the lock store. */
  prefix: string;
  /** The execution about to start; it takes the locks. */
  execution: string;
  /** Shown to whoever is refused later (test, planned, ...). @defaultValue input.type */
  operation?: string;
  /**
   * Lifetime of the locks taken here, in ms (0: none). A submit passes a short one and makes the
   * locks permanent (persistLocks) once the execution is stored, so a submitter that dies in
   * between leaves nothing held for long.
   * @defaultValue 0
   */
  lockTtlMs?: number;
}

/**
 * The gate in front of an execution: pre-flight, then, only when nothing blocks, the plan lock and
 * every selected VM's lock in one atomic step. Another execution can take a lock between the two;
 * the atomic acquire catches that, and its conflicts come back as PLAN_LOCKED / VM_LOCKED blockers
 * in the same report, so the caller has one answer: `locked` true means go.
 *
 * Dry runs call runPreflight instead: they must not take locks.
 */
export async function preflightAndLock(
  input: GateInput,
): Promise<{ report: PreflightReport; locked: boolean }> {
  const { redis, prefix, execution, operation, lockTtlMs, ...rest } = input;
  const report = await runPreflight({
    estimate: false,
    ...rest,
    execution,
    locks: createLockReader(redis, prefix),
  });
  if (!report.ok) return { report, locked: false };
  const acquired = await acquireLocks(redis, prefix, {
    execution,
    plan: input.plan.metadata.name,
    vms: report.selected,
    operation: operation ?? input.type,
    ...(lockTtlMs === undefined ? {} : { ttlMs: lockTtlMs }),
  });
  if (acquired.ok) return { report, locked: true };
  const blockers = acquired.conflicts.map((conflict) => conflictBlocker(conflict, input));
  return { report: { ...report, ok: false, blockers: [...report.blockers, ...blockers] }, locked: false };
}

function conflictBlocker(conflict: LockConflict, input: GateInput): Blocker {
  const { holder } = conflict;
  const by = `execution ${holder.execution} (plan '${holder.plan}'${holder.operation === undefined ? '' : `, ${holder.operation}`})`;
  const index = conflict.kind === 'vm' ? input.plan.vms.findIndex((vm) => vm.name === conflict.name) : -1;
  const path = conflict.kind === 'plan' ? 'metadata.name' : index >= 0 ? `spec.vms[${index}]` : 'spec.vms';
  const at = input.locate?.(path);
  return {
    severity: 'blocker',
    code: conflict.kind === 'plan' ? 'PLAN_LOCKED' : 'VM_LOCKED',
    ...(conflict.kind === 'vm' ? { vm: conflict.name } : {}),
    path,
    ...(at === undefined ? {} : { line: at.line, column: at.column }),
    message:
      conflict.kind === 'plan'
        ? `plan '${conflict.name}' was taken by ${by} while pre-flight ran`
        : `VM '${conflict.name}' was locked by ${by} while pre-flight ran`,
    hint: 'another execution started at the same moment; wait for it, or leave these VMs out (--vms)',
    details: { execution: holder.execution, plan: holder.plan },
  };
}
