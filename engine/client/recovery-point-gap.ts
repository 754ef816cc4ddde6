/**
 * Before an unplanned failover: each VM's recovery point on the replica side (the one the chosen
 * recovery point selects), and the gap
 * between the VMs (oldest, newest, spread), so an operator sees how far apart the VMs will land
 * before anything starts.
 */

import { assertNever } from '../common/index.ts';
import type { VmRecoveryPointInfo } from '../executor/index.ts';
import type { HostDriver, RecoveryPoint } from '../hosts/index.ts';
import type { Direction, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import { recoveryPointSpread } from '../preflight/index.ts';

export interface RecoveryPointGap {
  vms: VmRecoveryPointInfo[];
  oldest?: string;
  newest?: string;
  spreadMs: number;
}

/** The point a failover will use for this choice (newest that fits), as the simulator picks it. */
export function pickRecoveryPoint(
  points: readonly RecoveryPoint[],
  choice: RecoveryPointChoice,
): RecoveryPoint | undefined {
  const fits = (p: RecoveryPoint): boolean => {
    switch (choice.kind) {
      case 'latest':
        return true;
      case 'latestProcessed':
        return p.kind !== 'latest';
      case 'latestAppConsistent':
        return p.kind === 'appConsistent';
      case 'at':
        return Date.parse(p.time) <= Date.parse(choice.at);
      default:
        return assertNever(choice, 'recovery point choice');
    }
  };
  return points
    .filter(fits)
    .reduce<RecoveryPoint | undefined>(
      (best, p) => (best === undefined || Date.parse(p.time) > Date.parse(best.time) ? p : best),
      undefined,
    );
}

/**
 * Each VM's point for the run-time choice (`override`, else the VM's own, else the plan's), and the
 * spread between the oldest and the newest.
 */
export async function measureRecoveryPointGap(
  api: Pick<HostDriver, 'getRecoveryPoints'>,
  plan: RecoveryPlan,
  direction: Direction = 'forward',
  override?: RecoveryPointChoice,
): Promise<RecoveryPointGap> {
  const replicaSite = direction === 'forward' ? plan.target : plan.source;
  const vms = await Promise.all(
    plan.vms.map(async (vm): Promise<VmRecoveryPointInfo> => {
      try {
        const points = await api.getRecoveryPoints(replicaSite, vm.name);
        const newest = pickRecoveryPoint(points, override ?? vm.recoveryPoint ?? plan.recoveryPoint);
        return newest ? { vm: vm.name, time: newest.time } : { vm: vm.name };
      } catch {
        return { vm: vm.name };
      }
    }),
  );
  // The same figures pre-flight shows before the run (engine/preflight/spread.ts).
  const spread = recoveryPointSpread(vms);
  if (spread === undefined) return { vms, spreadMs: 0 };
  return { vms, oldest: spread.oldest, newest: spread.newest, spreadMs: spread.spreadMs };
}
