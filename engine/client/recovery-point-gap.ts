/**
 * Before an unplanned failover: each VM's newest recovery point on the replica side, and the gap
 * between the VMs (oldest, newest, spread), so an operator sees how far apart the VMs will land
 * before anything starts.
 */

import type { HyperVApi } from '../../simulators/index.ts';
import type { VmRecoveryPointInfo } from '../executor/index.ts';
import type { Direction, RecoveryPlan } from '../plan/types.ts';

export interface RecoveryPointGap {
  vms: VmRecoveryPointInfo[];
  oldest?: string;
  newest?: string;
  spreadMs: number;
}

export async function measureRecoveryPointGap(
  api: Pick<HyperVApi, 'getRecoveryPoints'>,
  plan: RecoveryPlan,
  direction: Direction = 'forward',
): Promise<RecoveryPointGap> {
  const replicaSite = direction === 'forward' ? plan.target : plan.source;
  const vms = await Promise.all(
    plan.vms.map(async (vm): Promise<VmRecoveryPointInfo> => {
      try {
        const points = await api.getRecoveryPoints(replicaSite, vm.name);
        const newest = points.reduce<(typeof points)[number] | undefined>(
          (best, p) => (best === undefined || Date.parse(p.time) > Date.parse(best.time) ? p : best),
          undefined,
        );
        return newest ? { vm: vm.name, time: newest.time, seq: newest.seq } : { vm: vm.name };
      } catch {
        return { vm: vm.name };
      }
    }),
  );
  const times = vms.flatMap((v) => (v.time ? [Date.parse(v.time)] : []));
  if (times.length === 0) return { vms, spreadMs: 0 };
  const oldest = Math.min(...times);
  const newest = Math.max(...times);
  return {
    vms,
    oldest: new Date(oldest).toISOString(),
    newest: new Date(newest).toISOString(),
    spreadMs: newest - oldest,
  };
}
