import type { LossBound, PrimarySighting } from '../contract/index.ts';
import type { HostView, NetworkView, RecoveryPoint, VmView } from '../hosts/index.ts';
import type { FailedOverRecord, LockHolder } from '../locks/index.ts';
import type {
  Direction,
  DurationMs,
  FailoverType,
  NetworkBinding,
  RecoveryPointChoice,
} from '../plan/types.ts';
import type { AcceptableBlockerCode } from './accept.ts';
import type { RecoveryPointSpread } from './spread.ts';

/** Stable codes of findings that stop an execution from starting. */
export type BlockerCode =
  | 'TARGET_UNREACHABLE'
  | 'SOURCE_UNREACHABLE'
  | 'VM_NOT_FOUND'
  | 'NOT_REPLICATING_TO_TARGET'
  | 'REPLICATION_CRITICAL'
  | 'REPLICATION_SUSPENDED'
  | 'REPLICATION_BEHIND'
  | 'RESYNC_REQUIRED'
  | 'HOST_DOWN'
  | 'NO_RECOVERY_POINT'
  | 'RPO_NOT_MET'
  | 'INSUFFICIENT_CAPACITY'
  | 'NETWORK_MISSING'
  | 'TEST_NETWORK_NOT_ISOLATED'
  | 'TEST_VM_EXISTS'
  | 'PLAN_LOCKED'
  | 'VM_LOCKED'
  | 'ALREADY_FAILED_OVER'
  | 'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING'
  | 'SCRIPT_NOT_IN_CATALOG'
  | 'NO_SCRIPT_CATALOG'
  // Lifecycle operations (lifecycle.ts)
  | 'PAST_POINT_OF_NO_RETURN'
  | 'NOT_FAILED_OVER'
  | 'VM_NOT_UP'
  | 'ONLY_RUNNING_COPY'
  | 'NOT_REVERSIBLE';

/** Stable codes of findings that are shown but do not stop anything (and blockers the operator accepted). */
export type WarningCode =
  | AcceptableBlockerCode
  | 'REPLICATION_WARNING'
  | 'REPLICATION_CRITICAL_SOURCE_LOST'
  | 'REPLICATION_SUSPENDED'
  | 'REPLICATION_BEHIND'
  | 'SOURCE_UNREACHABLE'
  | 'RPO_NOT_MET'
  | 'TEST_NETWORK_UNSET'
  | 'NETWORK_MISSING'
  | 'CAPACITY_HIGH'
  | 'PRIMARY_RUNNING'
  | 'SCRIPT_CATALOG_DIFFERS'
  | 'AUTOMATIC_START_ACTION'
  // Lifecycle operations (lifecycle.ts)
  | 'VM_NOT_UP'
  | 'PRIMARY_NOT_RESTARTABLE';

interface FindingBase {
  message: string;
  /** The VM the finding is about, when it is about one. */
  vm?: string;
  site?: string;
  host?: string;
  /** YAML path into the plan file, e.g. `spec.vms[12].network.test`. */
  path: string;
  /** Filled when the caller passes `locate`; 1-based. */
  line?: number;
  column?: number;
  /** What to do about it. */
  hint: string;
  /** Numbers and names behind the message (capacity figures, holders), for `--json`. */
  details?: Record<string, string | number | boolean>;
}

export interface Blocker extends FindingBase {
  severity: 'blocker';
  code: BlockerCode;
}

export interface PreflightWarning extends FindingBase {
  severity: 'warning';
  code: WarningCode;
}

export type Finding = Blocker | PreflightWarning;

/** The recovery point a VM would fail over to, as `--dry-run` shows it. */
export interface PlannedPoint {
  id: string;
  kind: RecoveryPoint['kind'];
  time: string;
  /** Simulated age at pre-flight time. */
  ageMs: number;
  /**
   * The data loss a failover now would claim (engine/contract/data-loss.ts), measured to when the
   * old primary was last known able to write: unplanned failovers only. The RPO check uses it.
   */
  loss?: { ms: number; bound: LossBound; basis: string };
  /**
   * True when the point is not exactly the one failover will use: `latestProcessed` (not listed by
   * Get-VMSnapshot), or a VM whose points were not read.
   */
  approximate: boolean;
}

export interface Placement {
  vm: string;
  site: string;
  /** The replica's host at the target: where the VM will run. */
  host?: string;
  recoveryPoint?: PlannedPoint;
  /** The choice that was resolved, after per-VM and run-time overrides. */
  choice: RecoveryPointChoice;
  network?: NetworkBinding;
  memoryMb?: number;
}

export interface ResourceUse {
  total: number;
  used: number;
  needed: number;
}

export interface HostCapacity {
  host: string;
  powered: boolean;
  slots: ResourceUse;
  memoryMb: ResourceUse;
}

export interface SiteCapacity {
  site: string;
  slots: ResourceUse;
  memoryMb: ResourceUse;
  /** (used + needed) / total after the failover, 0..1+ (the larger of slots and memory). */
  utilizationAfter: number;
  maxUtilization: number;
  hosts: HostCapacity[];
}

export interface PreflightReport {
  /** True when there is no blocker. */
  ok: boolean;
  plan: string;
  type: FailoverType;
  direction: Direction;
  fromSite: string;
  toSite: string;
  /** Simulated time of the inventory, ISO-8601. */
  checkedAt: string;
  /** The VMs this run would fail over (plan order). */
  selected: string[];
  blockers: Blocker[];
  warnings: PreflightWarning[];
  placements: Placement[];
  /**
   * How far apart the selected VMs' recovery points are (sites' clock). Absent for a planned
   * failover (every VM replicates up to its shutdown) and when no VM has a point.
   */
  recoveryPointSpread?: RecoveryPointSpread;
  capacity?: SiteCapacity;
  /** RPO/RTO targets of the plan and the RTO estimate, when known. */
  targets: { rpoMs?: DurationMs; rtoMs?: DurationMs };
  estimatedRtoMs?: DurationMs;
  /** False when pre-flight ran without the lock store (e.g. a dry run away from the control plane). */
  locksChecked: boolean;
  /**
   * Per site read, how old its data is, when pre-flight read a copy (the control plane's vault)
   * rather than the hosts: "data as of". Absent when read from the hosts themselves.
   */
  dataAsOf?: SiteDataAge[];
  stats: { vms: number; apiCalls: number; gatherMs: number; evaluateMs: number };
}

/**
 * How old the data pre-flight read of a site is, when it was read from a copy (the control
 * plane's vault, filled by the site's agent) rather than from the hosts.
 */
export interface SiteDataAge {
  site: string;
  /** The hosts' clock when the site's agent read what the copy holds, ISO-8601. */
  asOf: string;
  /** How long ago the copy received it (the control plane's clock, real time). */
  ageMs: number;
  source: 'vault';
}

/** What one site's inventory read returned, or why it could not be read. */
export type SiteRead =
  | {
      ok: true;
      site: string;
      vms: VmView[];
      hosts: HostView[];
      networks: NetworkView[];
      asOf?: SiteDataAge;
    }
  | { ok: false; site: string; error: { code: string; message: string }; asOf?: SiteDataAge };

export type PointsRead =
  | { ok: true; points: RecoveryPoint[] }
  | { ok: false; error: { code: string; message: string } };

/** Everything pre-flight decides on: one consistent snapshot, read once. */
export interface Inventory {
  /** Simulated time of the read. */
  now: Date;
  to: SiteRead;
  /** Read for planned and unplanned failovers; absent for drills. */
  from?: SiteRead;
  /** Per selected VM, from the target site. */
  recoveryPoints: Map<string, PointsRead>;
  planLock?: LockHolder;
  locks: Map<string, LockHolder>;
  failedOver: Map<string, FailedOverRecord>;
  /** Unplanned: what the engine last saw of the primaries at the source (engine/locks sightings). */
  sightings?: Map<string, PrimarySighting>;
  apiCalls: number;
  /** False when no LockReader was given: locks and failed-over records were not checked. */
  locksRead: boolean;
}
