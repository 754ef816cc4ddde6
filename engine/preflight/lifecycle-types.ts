/** The shapes of a lifecycle operation's pre-flight (lifecycle.ts): what it checks, reads and reports. */
import type { RecoveryPoint } from '../hosts/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { Blocker, PointsRead, PreflightWarning, SiteRead } from './types.ts';

export type LifecycleOperation = 'commit' | 'change-point' | 'cancel' | 'reprotect';

/** What the operation is about: the failover, its plan and the VMs the operation acts on. */
export interface LifecycleCheck {
  operation: LifecycleOperation;
  /** The failover (planned or unplanned execution) the operation acts on. */
  execution: string;
  failoverType: 'planned' | 'unplanned';
  /**
   * The newest epoch of the failover and its own lifecycle runs: a VM that accepted a newer one
   * was acted on by another execution since.
   */
  failoverEpoch: number;
  /** The failover's plan snapshot (paths of findings point into it). */
  plan: RecoveryPlan;
  /** The failover's sites: its VMs ran at `fromSite` and were failed over to `toSite`. */
  fromSite: string;
  toSite: string;
  vms: readonly string[];
  /** change-point: the point asked for. */
  recoveryPoint?: RecoveryPointChoice;
  /** commit --partial: VMs that are not up are left out instead of blocking. */
  partial?: boolean;
}

/** One read of both sites, and the recovery points a change of point needs. */
export interface LifecycleInventory {
  now: Date;
  to: SiteRead;
  from: SiteRead;
  recoveryPoints: Map<string, PointsRead>;
  apiCalls: number;
}

/** Per VM, what the operation will do with it. */
export interface LifecycleVmRow {
  vm: string;
  /** Where it runs now (site/host), or why it runs nowhere. */
  runs: string;
  /** What the operation will do. */
  action: string;
  /** change-point: the point it will fail over to; commit: the point it keeps. */
  recoveryPoint?: RecoveryPoint;
  /** reprotect: the resync reversing needs, when known before it runs (planned: 0). */
  resyncBytes?: number;
}

export interface LifecycleReport {
  ok: boolean;
  operation: LifecycleOperation;
  execution: string;
  plan: string;
  fromSite: string;
  toSite: string;
  checkedAt: string;
  /** The VMs the operation will act on (commit --partial: less those left out). */
  vms: string[];
  /** commit --partial: VMs left out, and why. */
  leftOut: { vm: string; reason: string }[];
  blockers: Blocker[];
  warnings: PreflightWarning[];
  rows: LifecycleVmRow[];
  stats: { apiCalls: number };
}
