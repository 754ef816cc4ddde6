import type { Logger } from '../../common/index.ts';
import type { FailoverTruth, TruthSource } from '../orchestrator/runner-deps.ts';
import type { DataLossEntry } from './execution-record.ts';

/**
 * Each VM's newest failover to `toSite` that `counts` accepts, from the simulator's ledger, in the
 * order of `vms` (a VM with none is left out). Undefined when there is no ledger or it cannot be
 * read: the execution ends without data-loss figures rather than with made-up ones.
 */
export async function readDataLoss(
  deps: { truth?: TruthSource; log: Logger },
  vms: readonly string[],
  toSite: string,
  counts: (failover: FailoverTruth) => boolean,
): Promise<DataLossEntry[] | undefined> {
  if (deps.truth === undefined) return undefined;
  const wanted = new Set(vms);
  const latest = new Map<string, DataLossEntry>();
  try {
    const truth = await deps.truth();
    for (const failover of truth.failovers) {
      if (!wanted.has(failover.vm) || failover.toSite !== toSite || !counts(failover)) continue;
      latest.set(failover.vm, {
        vm: failover.vm,
        lostWrites: failover.lostWrites,
        recoveryPoint: failover.recoveryPoint.time,
        windowMs: Math.max(0, Date.parse(failover.at) - Date.parse(failover.recoveryPoint.time)),
      });
    }
  } catch (error) {
    deps.log.warn({ err: error }, 'could not read data loss from the simulator');
    return undefined;
  }
  return vms.flatMap((vm) => {
    const entry = latest.get(vm);
    return entry ? [entry] : [];
  });
}
