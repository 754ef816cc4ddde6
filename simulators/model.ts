import type { NetworkAttachment, PowerState, RecoveryPoint, ReplicationState } from './api.ts';
import type { AutomaticStartAction } from './spec.ts';

/** The mutable state of the world. Only the simulator's own modules touch it. */

export interface Site {
  name: string;
  powered: boolean;
  hosts: Map<string, Host>;
  networks: Map<string, { name: string; isolated: boolean }>;
  /** Every VM instance this site's hosts hold, by name (test VMs as `<vm> - Test`). */
  vms: Map<string, VmInstance>;
}

export interface Host {
  site: string;
  /** The site object itself: cycles check its power without a lookup. */
  siteRef: { powered: boolean };
  name: string;
  powered: boolean;
  vmSlots: number;
  memoryMb: number;
  maxConcurrentBoots: number;
  vms: Set<VmInstance>;
  /** The host's guard (guard.ts), once it was armed. */
  guard?: HostGuard;
  /** Kept by power.ts on every power transition, so capacity checks are O(1). */
  usedSlots: number;
  usedMemoryMb: number;
  booting: number;
}

/** A host's guard (issue 13): simulated ms on the world's clock. */
export interface HostGuard {
  vms: string[];
  timeoutMs: number;
  deadline: number | null;
  lastRenewal: number | null;
  fired: { at: number; vms: string[] } | null;
  /** Bumped at every arm, renewal and disarm: a scheduled firing of an older one does nothing. */
  generation: number;
}

export interface Link {
  key: string;
  a: string;
  b: string;
  up: boolean;
  latencyMs: number;
  bandwidthBytesPerSec: number;
  /** Relationships that ship over this link (share its bandwidth equally each cycle). */
  active: number;
  /** Bytes shipped, by direction `from->to`. */
  bytes: Map<string, { bytes: number }>;
}

/**
 * A VM's disk as a counter: the writes it holds are sequence numbers 1..seq. While the guest
 * writes, seq grows at `rate` per second from `since`; nothing is stored per write.
 */
export interface Disk {
  baseSeq: number;
  /** Simulated ms the current write run began, or null when the guest is not writing. */
  since: number | null;
  /** Writes per second. */
  rate: number;
  /** Canary writes acknowledged on top of the steady stream in the current run. */
  extra: number;
  /** seq → payload, only for canary writes. */
  payloads: Map<number, string> | null;
  /**
   * The write runs that ended (one per boot, oldest first), so the acknowledgement time of any
   * write can be computed back from its sequence number (workload.ts `ackTimeOf`).
   */
  runs: WriteRun[];
  /** The last finished write run (for the ledger's times of lost writes), set when writing stops. */
  lastRun?: { since: number; baseSeq: number; stoppedAt: number };
}

/** One ended write run: writes fromSeq+1..toSeq, acknowledged from `since` at `rate`/s until `until`. */
export interface WriteRun {
  fromSeq: number;
  toSeq: number;
  since: number;
  until: number;
  rate: number;
  /** Canary writes among them (their exact places are not kept). */
  extra: number;
}

export type FailoverStage = 'FailedOverWaitingCompletion' | 'FailedOver';

/** One VM as one site's host holds it: a primary, a replica, an extended replica or a test VM. */
export interface VmInstance {
  name: string;
  /** The protected VM this instance belongs to (for a test VM, the VM it was created from). */
  vm: string;
  site: string;
  host: Host;
  isTest: boolean;
  state: PowerState;
  /** Simulated ms the VM last powered on (Starting), null while Off: Get-VM's Uptime counts from it. */
  poweredOnAt: number | null;
  heartbeatOk: boolean;
  /** Increments when a boot is cancelled, so a stale boot-complete event does nothing. */
  bootToken: number;
  wasRunningAtCrash: boolean;
  role: 'Primary' | 'Replica' | 'ExtendedReplica' | 'TestReplica' | 'None';
  failoverStage: FailoverStage | null;
  /** Prepared for planned failover (Start-VMFailover -Prepare): barred from starting. */
  prepared: boolean;
  /** Barred from starting under epochs <= this value (fenceVM), or null. */
  fencedEpoch: number | null;
  epoch: number;
  network: NetworkAttachment | null;
  automaticStartAction: AutomaticStartAction;
  memoryMb: number;
  diskBytes: number;
  bytesPerWrite: number;
  boot: { minMs: number; maxMs: number };
  bootMode: { mode: 'normal' | 'slow' | 'fail'; factor: number };
  /** Extra simulated ms added to the next boot (applying logs after a `latest` failover). */
  pendingApplyMs: number;
  disk: Disk;
  /** Relationship this instance receives from (as replica or extended replica). */
  incoming: Relationship | null;
  /** Relationships this instance replicates to. */
  outgoing: Relationship[];
  testVm: VmInstance | null;
  /** For a replica that failed over: the failover record's index in the truth. */
  failoverIndex: number | null;
  /**
   * The recovery point a failed-over replica (until Complete-VMFailover) or a test VM was made
   * from: Hyper-V's applied replica snapshot (Get-VM's ParentSnapshotId).
   */
  recoveryPoint: RecoveryPoint | null;
}

export interface StoredPoint {
  id: string;
  kind: 'standard' | 'appConsistent';
  at: number;
  seq: number;
}

export type RelationshipState =
  | Extract<
      ReplicationState,
      'Replicating' | 'Suspended' | 'Error' | 'WaitingForStartResynchronize' | 'Resynchronizing'
    >
  | 'Stopped';

export interface Relationship {
  vm: string;
  source: VmInstance;
  target: VmInstance;
  /** The hosts of source and target (VMs never move): the cycle checks them without a detour. */
  sourceHost: Host;
  targetHost: Host;
  extended: boolean;
  freqMs: number;
  phaseMs: number;
  link: Link | null;
  /** This relationship's direction counter on its link. */
  linkBytes: { bytes: number } | null;
  state: RelationshipState;
  receivedSeq: number;
  receivedAt: number;
  appliedSeq: number;
  appliedAt: number;
  lastReplicationAt: number;
  failingSince: number | null;
  totalCycles: number;
  missedCycles: number;
  maxPoints: number;
  appConsistentEvery: number;
  nextPointAt: number;
  pointCounter: number;
  points: StoredPoint[];
  resyncUntil: number;
  resyncSeq: number;
  resyncBytes: number;
  bucket: string | null;
}

/**
 * Every VM instance is built by this one literal, so all share one hidden class and the hot
 * replication loop stays monomorphic.
 */
export function newInstance(init: VmInstance): VmInstance {
  return {
    name: init.name,
    vm: init.vm,
    site: init.site,
    host: init.host,
    isTest: init.isTest,
    state: init.state,
    poweredOnAt: init.poweredOnAt,
    heartbeatOk: init.heartbeatOk,
    bootToken: init.bootToken,
    wasRunningAtCrash: init.wasRunningAtCrash,
    role: init.role,
    failoverStage: init.failoverStage,
    prepared: init.prepared,
    fencedEpoch: init.fencedEpoch,
    epoch: init.epoch,
    network: init.network,
    automaticStartAction: init.automaticStartAction,
    memoryMb: init.memoryMb,
    diskBytes: init.diskBytes,
    bytesPerWrite: init.bytesPerWrite,
    boot: init.boot,
    bootMode: init.bootMode,
    pendingApplyMs: init.pendingApplyMs,
    disk: init.disk,
    incoming: init.incoming,
    outgoing: init.outgoing,
    testVm: init.testVm,
    failoverIndex: init.failoverIndex,
    recoveryPoint: init.recoveryPoint,
  };
}
