/**
 * The host-driver interface: everything the engine may ask of a site's Hyper-V hosts, shaped on
 * what the Hyper-V cmdlets return and accept (Get-VM, Get-VMReplication, Measure-VMReplication,
 * Get-VMSnapshot -SnapshotType Replica, Start-VMFailover, Complete-VMFailover, Set-VMReplication
 * -Reverse, Start-VM, Stop-VM, ...). The engine owns it; the simulator implements it (in process
 * and over HTTP), a WinRM/PowerShell connector later. See ARCHITECTURE.md beside this file for how
 * a real host provides what Hyper-V has no cmdlet for (the epoch, the fence).
 *
 * Every mutating call carries `epoch` (the fencing token of the execution that issued it). A VM
 * remembers the highest epoch it has accepted and refuses a lower one with `STALE_EPOCH`.
 */

export type PowerState = 'Off' | 'Starting' | 'Running' | 'Stopping';
/** Get-VM's AutomaticStartAction: what the host does with the VM when it (re)starts. */
export type AutomaticStartAction = 'Nothing' | 'StartIfRunning' | 'Start';
export type GuestHeartbeat = 'Ok' | 'NoContact';
export type ReplicationHealth = 'Normal' | 'Warning' | 'Critical';
export type ReplicationMode = 'Primary' | 'Replica' | 'ExtendedReplica' | 'TestReplica' | 'None';
/** Subset of Hyper-V's VMReplicationState that the simulator models. */
export type ReplicationState =
  | 'Disabled'
  | 'Replicating'
  | 'Suspended'
  | 'PreparedForFailover'
  | 'FailedOverWaitingCompletion'
  | 'FailedOver'
  | 'WaitingForStartResynchronize'
  | 'Resynchronizing'
  | 'Error';

export type RecoveryPointSelector =
  | { kind: 'latest' }
  | { kind: 'latestProcessed' }
  | { kind: 'latestAppConsistent' }
  /** The newest point at or before this simulated time (ms since the world's epoch 0 is ISO time). */
  | { kind: 'at'; at: string }
  | { kind: 'id'; id: string };

export interface RecoveryPoint {
  id: string;
  kind: 'latest' | 'standard' | 'appConsistent';
  /**
   * Time of the newest data the point holds, ISO-8601 (Get-VMSnapshot's CreationTime for a
   * replica point; the last replication time for `latest`). Writes acknowledged on the primary
   * after it are not in the point: the start of a failover's data-loss window.
   */
  time: string;
}

export interface VmReplicationView {
  mode: ReplicationMode;
  state: ReplicationState;
  health: ReplicationHealth;
  /** Site the VM replicates from / to in its current direction. */
  primarySite: string;
  replicaSite: string;
  frequencySec: 30 | 300 | 900;
  lastReplicationTime?: string;
  /** True when the change log passed 50 % of the disk size and a resync is needed. */
  resyncRequired: boolean;
}

export interface NetworkAttachment {
  network: string;
  ip?: string;
}

/** Get-VM merged with Get-VMReplication, as one site sees one VM. */
export interface VmView {
  site: string;
  host: string;
  name: string;
  /** For a test failover the test VM is `<name> - Test`, with isTest true. */
  isTest: boolean;
  state: PowerState;
  heartbeat: GuestHeartbeat;
  replication: VmReplicationView | null;
  network: NetworkAttachment | null;
  automaticStartAction: AutomaticStartAction;
  /**
   * Get-VM's Uptime in seconds (fractional): how long the VM has been on since it last started
   * (Starting included); 0 when Off. Host time.
   */
  uptimeSec: number;
  /** Highest epoch this VM accepted. */
  epoch: number;
  /** Barred from starting (fenced, or prepared for a planned failover). */
  startBarred: boolean;
  memoryMb: number;
  /**
   * The recovery point this VM was made from: set on a failed-over replica (until
   * Complete-VMFailover) and on a test VM. Lets a repeated failover job report the point it used
   * without failing over again.
   */
  recoveryPoint?: RecoveryPoint;
}

export interface HostView {
  site: string;
  name: string;
  powered: boolean;
  vmSlots: number;
  memoryMb: number;
  usedSlots: number;
  usedMemoryMb: number;
  maxConcurrentBoots: number;
  booting: number;
}

export interface NetworkView {
  site: string;
  name: string;
  /** Isolated test networks reach nothing else. */
  isolated: boolean;
}

/**
 * Measure-VMReplication, as Hyper-V reports it: sizes, times, counts and health. Nothing in it
 * counts writes (Hyper-V has no write sequence numbers); the engine's data-loss claims are made of
 * times (engine/contract/data-loss.ts).
 */
export interface ReplicationMeasure {
  /** PendingReplicationSize: bytes of the change log not yet sent to the replica (0 on a replica that has everything its primary sent). */
  pendingBytes: number;
  /** LastReplicationTime, ISO-8601: the last cycle that reached the replica. Absent before the first. */
  lastReplicationTime?: string;
  /** MissedReplicationCount / the cycles counted so far (SuccessfulReplicationCount + missed). */
  missedCycles: number;
  totalCycles: number;
  health: ReplicationHealth;
}

/**
 * A host's guard (issue 13), as sbd's watchdog: armed with the VMs an automatic failover may
 * recover elsewhere and a timeout on the host's clock; when the agent does not renew it before its
 * deadline, the host itself hard-powers-off (Stop-VM -TurnOff) those of the VMs that run there as
 * primaries. Hyper-V has no cmdlet for it: on a real host it is a small host service (a Windows
 * service beside the Hyper-V management service, with its own timer) the driver reaches in the same
 * remote session. The engine never trusts it: the simulator judges it (its ledger records every
 * firing), the agent only reports what the host answered.
 */
export interface GuardView {
  site: string;
  host: string;
  armed: boolean;
  /** The VMs it turns off when it fires (sorted). */
  vms: string[];
  /** Host-clock ms from a renewal to the deadline. */
  timeoutMs: number;
  /** ISO, host clock: when it fires unless renewed. Absent when not armed. */
  deadline?: string;
  /** ISO, host clock: the last arm or renewal. */
  lastRenewal?: string;
  /** Its last firing (kept until it is armed again). */
  fired?: { at: string; vms: string[] };
  /** The host's clock now (ISO): lets the caller relate host time to its own. */
  now: string;
}

interface Mutation {
  site: string;
  vm: string;
  epoch: number;
}

export interface HostDriver {
  // ---- reads (never counted as mutations) ----
  /** Simulated time now, ISO-8601. */
  now(): Promise<string>;
  listSites(): Promise<string[]>;
  listHosts(site: string): Promise<HostView[]>;
  listNetworks(site: string): Promise<NetworkView[]>;
  /** Every VM (including test VMs) the site's hosts hold. */
  listVMs(site: string): Promise<VmView[]>;
  /** Get-VM / Get-VMReplication. Throws VM_NOT_FOUND. */
  getVM(site: string, vm: string): Promise<VmView>;
  /** Get-VMSnapshot -SnapshotType Replica, newest first, with the `latest` point first when one exists. */
  getRecoveryPoints(site: string, vm: string): Promise<RecoveryPoint[]>;
  /** Measure-VMReplication. */
  measureVMReplication(site: string, vm: string): Promise<ReplicationMeasure>;
  /** Resolves when the guest heartbeat is Ok, or with `ok: false` after timeoutMs of simulated time. */
  waitForHeartbeat(site: string, vm: string, timeoutMs: number): Promise<{ ok: boolean; waitedMs: number }>;
  /** A readiness probe from inside the VM's network: a TCP port or an HTTP path answering. */
  probe(
    site: string,
    vm: string,
    probe: { kind: 'tcp'; port: number } | { kind: 'http'; port: number; path: string },
  ): Promise<{ ok: boolean; status?: number }>;

  // ---- mutations (each counted in the ground truth, per VM and operation) ----
  /** Start-VM. Refused when barred, when the host is at its concurrent-boot limit (HOST_BOOT_LIMIT, retryable), or out of capacity. */
  startVM(req: Mutation): Promise<VmView>;
  /** Stop-VM (shut down the guest), or -TurnOff when `turnOff`. */
  stopVM(req: Mutation & { turnOff?: boolean }): Promise<VmView>;
  /**
   * Start-VMFailover.
   * - `prepare` (on the primary, VM Off): sends every pending write, bars the primary from starting,
   *   state PreparedForFailover. The planned-failover first half.
   * - `failover` (on the replica): the replica becomes the VM from the chosen point, state
   *   FailedOverWaitingCompletion. It does not start the VM.
   * - `test` (-AsTest, on the replica): creates `<vm> - Test` from the chosen point on `testNetwork`;
   *   replication and the primary are untouched.
   */
  startVMFailover(
    req: Mutation & {
      mode: 'prepare' | 'failover' | 'test';
      recoveryPoint?: RecoveryPointSelector;
      testNetwork?: NetworkAttachment;
    },
  ): Promise<{ vm: VmView; recoveryPoint?: RecoveryPoint }>;
  /** Stop-VMFailover: removes the test VM (`test: true`), or cancels a failover not yet completed. */
  stopVMFailover(req: Mutation & { test?: boolean }): Promise<VmView>;
  /** Complete-VMFailover: commit; every other recovery point is discarded. */
  completeVMFailover(req: Mutation): Promise<VmView>;
  /** Set-VMReplication -Reverse: the failed-over VM replicates back; returns the resync it needs. */
  reverseVMReplication(req: Mutation): Promise<{ vm: VmView; resyncBytes: number }>;
  /** Resume-VMReplication -Resynchronize. */
  resyncVMReplication(req: Mutation): Promise<VmView>;
  /** Suspend-VMReplication (on the primary): pause; changes keep accumulating in the log. */
  suspendVMReplication(req: Mutation): Promise<VmView>;
  /** Resume-VMReplication (on the primary): continue a paused replication. */
  resumeVMReplication(req: Mutation): Promise<VmView>;
  /** Set-VMNetworkAdapter / failover IP: attach the VM to a network with an IP. */
  connectVMNetwork(req: Mutation & NetworkAttachment): Promise<VmView>;
  /** Fence: turn the VM off (if running) and bar it from starting under epochs <= `epoch`. */
  fenceVM(req: Mutation): Promise<VmView>;
  /**
   * Set-VM -AutomaticStartAction: what the host does with the VM when the host (re)starts.
   * `Nothing` keeps an old primary off when its lost site returns before its agent.
   */
  setVMAutomaticStartAction(req: Mutation & { action: AutomaticStartAction }): Promise<VmView>;

  // ---- the host guard (GuardView; not a VM mutation) ----
  /** Arm (or re-arm: the VM list and timeout replaced, a firing forgotten) the host's guard. */
  armGuard(req: { site: string; host: string; vms: string[]; timeoutMs: number }): Promise<GuardView>;
  /** Push the deadline `timeoutMs` on. Refused (INVALID_STATE) when not armed or already fired: re-arm. */
  renewGuard(req: { site: string; host: string }): Promise<GuardView>;
  /** Disarm: nothing fires. */
  disarmGuard(req: { site: string; host: string }): Promise<GuardView>;
  guardStatus(site: string, host: string): Promise<GuardView>;
}

/** Error codes a driver throws (as an error with this `code`, in-process and over the wire alike). */
export type HostErrorCode =
  | 'VM_NOT_FOUND'
  | 'SITE_NOT_FOUND'
  | 'SITE_UNREACHABLE'
  | 'HOST_DOWN'
  | 'INVALID_STATE'
  | 'STALE_EPOCH'
  | 'START_BARRED'
  | 'HOST_BOOT_LIMIT'
  | 'INSUFFICIENT_CAPACITY'
  | 'NO_RECOVERY_POINT'
  | 'NETWORK_NOT_FOUND'
  | 'BAD_REQUEST';
