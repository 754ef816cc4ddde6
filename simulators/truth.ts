import type { SimErrorCode } from './api.ts';

/**
 * The ground truth the engine is judged against. Everything here is recorded by the simulator as
 * it happens, never estimated: who ran as primary where and when, what each failover lost by
 * sequence number, every split-brain interval, every mutating call.
 */

export type FailoverKind = 'test' | 'planned' | 'unplanned';

export interface FailoverRecord {
  vm: string;
  kind: FailoverKind;
  fromSite: string;
  toSite: string;
  at: string;
  atMs: number;
  recoveryPoint: { id: string; seq: number; time: string };
  /** Highest sequence number acknowledged on the old primary at the failover moment. */
  lastAckedSeq: number;
  /** Acknowledged writes the recovered VM does not have: lastAckedSeq − recoveryPoint.seq. */
  lostWrites: number;
  /** Inclusive range of the lost sequence numbers, or null when nothing was lost. */
  lostSeqRange: [number, number] | null;
  /**
   * When the first and the last lost write were acknowledged on the old primary (ISO), or null
   * when nothing was lost; a bound the simulator cannot place exactly (a write of an earlier write
   * run) is left out. What an engine's data-loss claim is judged against.
   */
  lostTimeRange: { first?: string; last?: string } | null;
  /** Writes the old primary acknowledged after the failover (split-brain writes). */
  writesAfterFailover: number;
  /** Set when the failover was cancelled (Stop-VMFailover) before it completed. */
  cancelledAt?: string;
  /** For test failovers: the network the test VM was attached to and whether it is isolated. */
  testNetwork?: { network: string | null; isolated: boolean };
}

export interface PrimaryInterval {
  site: string;
  from: string;
  to: string | null;
}

export interface SplitBrainInterval {
  vm: string;
  sites: string[];
  from: string;
  to: string | null;
  /** Writes acknowledged at each site during the interval. */
  writesBySite: Record<string, number>;
}

export interface LinkBytes {
  from: string;
  to: string;
  bytes: number;
}

/** A host guard that was not renewed in time and fired (guard.ts). */
export interface GuardFiring {
  site: string;
  host: string;
  at: string;
  /** The VMs it was armed with. */
  armedVms: string[];
  /** The armed VMs it turned off (those running as primaries there). */
  vms: string[];
}

export interface WorldTruth {
  now: string;
  vms: Record<string, { primarySites: string[]; timeline: PrimaryInterval[]; autoStarts: number }>;
  failovers: FailoverRecord[];
  splitBrain: SplitBrainInterval[];
  /** vm → site → operation → calls (accepted and refused alike). */
  mutations: Record<string, Record<string, Record<string, number>>>;
  /** vm → site → error code → refused calls. */
  refused: Record<string, Record<string, Partial<Record<SimErrorCode, number>>>>;
  bootLimitRefusals: number;
  replication: {
    links: LinkBytes[];
    vms: Record<string, { from: string; to: string; totalCycles: number; missedCycles: number }[]>;
  };
  faults: { at: string; fault: string }[];
  guardFirings: GuardFiring[];
}

export function bump<K extends string>(record: Partial<Record<K, number>>, key: K): void {
  record[key] = (record[key] ?? 0) + 1;
}

export function nested<T>(record: Record<string, T>, key: string, make: () => T): T {
  let value = record[key];
  if (value === undefined) {
    value = make();
    record[key] = value;
  }
  return value;
}

/** The sites where `vm` ran as primary at simulated time `at` (ISO), read from a truth snapshot. */
export function primarySitesAt(truth: WorldTruth, vm: string, at: string): string[] {
  const t = Date.parse(at);
  const sites = new Set<string>();
  for (const interval of truth.vms[vm]?.timeline ?? []) {
    if (Date.parse(interval.from) <= t && (interval.to === null || t < Date.parse(interval.to)))
      sites.add(interval.site);
  }
  return [...sites].sort();
}
