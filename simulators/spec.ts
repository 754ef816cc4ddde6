import type { ClockOptions } from './clock.ts';

/**
 * The normalized description of a world: what `createWorld` takes. World files (world-file.ts) and
 * `worldForPlan` (for-plan.ts) both produce it. Durations are ms, sizes bytes or MB as named.
 */
export interface WorldSpec {
  /** @defaultValue 1 */
  seed?: number;
  /** ISO time of simulated ms 0. @defaultValue '2026-01-01T00:00:00.000Z' */
  start?: string;
  clock?: ClockOptions;
  sites: SiteSpec[];
  links?: LinkSpec[];
  vms: VmSpec[];
  faults?: FaultSpec[];
  randomFaults?: RandomFaultSpec;
  /**
   * Continuous replication failure after which the relationship goes to Error (health Critical).
   * A simulator choice: Hyper-V retries, and reports Critical once it stops retrying.
   * @defaultValue 6 h
   */
  replicationErrorAfterMs?: number;
  /** Rate at which a replica applies received logs, for `latest` failovers. @defaultValue 50 MB/s */
  applyBytesPerSec?: number;
}

export interface SiteSpec {
  name: string;
  hosts: HostSpec[];
  networks?: { name: string; isolated?: boolean }[];
}

export interface HostSpec {
  name: string;
  /** @defaultValue 50 */
  vmSlots?: number;
  /** @defaultValue 262144 (256 GiB) */
  memoryMb?: number;
  /** @defaultValue 8 */
  maxConcurrentBoots?: number;
}

export interface LinkSpec {
  between: [string, string];
  /** @defaultValue 5 */
  latencyMs?: number;
  /** Bytes per second. @defaultValue 125_000_000 (1 Gbit/s) */
  bandwidthBytesPerSec?: number;
  /** @defaultValue true */
  up?: boolean;
}

export type AutomaticStartAction = 'Nothing' | 'StartIfRunning' | 'Start';

export interface VmSpec {
  name: string;
  site: string;
  host: string;
  /** @defaultValue 4096 */
  memoryMb?: number;
  /** @defaultValue 40 GiB */
  diskBytes?: number;
  /** @defaultValue 'Running' */
  state?: 'Running' | 'Off';
  network?: { network: string; ip?: string };
  /** Boot time: fixed ms, or drawn uniformly from [minMs, maxMs] under the seed at each boot. @defaultValue 5000 */
  boot?: number | { minMs: number; maxMs: number };
  /** @defaultValue 'StartIfRunning' */
  automaticStartAction?: AutomaticStartAction;
  workload?: {
    /** Writes per second, fixed or drawn once per VM from [min, max] under the seed. @defaultValue 10 */
    writesPerSec?: number | { min: number; max: number };
    /** @defaultValue 4096 */
    bytesPerWrite?: number;
  };
  replication?: ReplicationSpec;
}

export interface ReplicationSpec {
  site: string;
  host: string;
  /** @defaultValue 300 */
  frequencySec?: 30 | 300 | 900;
  /** Additional hourly recovery points kept, 0..24. @defaultValue 0 */
  recoveryPoints?: number;
  /** Every n-th hourly point is application-consistent (VSS); 0: none. @defaultValue 0 */
  appConsistentEveryHours?: number;
  /** Cycle phase in ms (cycles at phase + k × frequency). @defaultValue drawn under the seed in whole seconds */
  phaseMs?: number;
  extended?: {
    site: string;
    host: string;
    frequencySec?: 300 | 900;
    recoveryPoints?: number;
    phaseMs?: number;
  };
}

export type FaultAction =
  | { kind: 'host-crash'; site: string; host: string }
  | { kind: 'host-up'; site: string; host: string }
  | { kind: 'site-power'; site: string; state: 'off' | 'on' }
  | { kind: 'link'; from: string; to: string; state: 'down' | 'up' }
  | { kind: 'boot'; vm: string; site?: string; mode: 'slow' | 'fail' | 'normal'; factor?: number }
  | { kind: 'throttle'; from: string; to: string; bandwidthBytesPerSec: number };

export type FaultSpec = FaultAction & { atMs: number };

export interface RandomFaultSpec {
  seed?: number;
  /** Faults are drawn over [0, horizonMs). @defaultValue 24 h */
  horizonMs?: number;
  hostCrashesPerDay?: number;
  /** Mean host downtime. @defaultValue 10 min */
  hostDowntimeMs?: number;
  linkCutsPerDay?: number;
  /** Mean link outage. @defaultValue 30 min */
  linkOutageMs?: number;
}
