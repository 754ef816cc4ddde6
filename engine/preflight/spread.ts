/**
 * How far apart the VMs of a run will land: the oldest and the newest of their recovery points'
 * times (the sites' clock) and the spread between them. A recovery point's time is the time of the
 * newest data it holds, so the spread is how much further back in time one VM lands than another.
 * Pre-flight shows it before anything starts (`--dry-run`, `drctl preflight`); the client's
 * recovery-point gap, kept with an unplanned failover, uses the same figures.
 */

export interface RecoveryPointSpread {
  /** VMs that have a point (the others have a NO_RECOVERY_POINT blocker). */
  vms: number;
  oldest: string;
  oldestVm: string;
  newest: string;
  newestVm: string;
  /** newest − oldest, ms of the sites' clock. */
  spreadMs: number;
  /** True when some point is not exactly the one failover will use (no exact points read, latestProcessed). */
  approximate: boolean;
}

export function recoveryPointSpread(
  points: readonly { vm: string; time?: string | undefined; approximate?: boolean }[],
): RecoveryPointSpread | undefined {
  let oldest: { vm: string; ms: number; time: string } | undefined;
  let newest: { vm: string; ms: number; time: string } | undefined;
  let vms = 0;
  let approximate = false;
  for (const p of points) {
    if (p.time === undefined) continue;
    const ms = Date.parse(p.time);
    if (Number.isNaN(ms)) continue;
    vms++;
    if (p.approximate === true) approximate = true;
    if (oldest === undefined || ms < oldest.ms) oldest = { vm: p.vm, ms, time: p.time };
    if (newest === undefined || ms > newest.ms) newest = { vm: p.vm, ms, time: p.time };
  }
  if (oldest === undefined || newest === undefined) return undefined;
  return {
    vms,
    oldest: oldest.time,
    oldestVm: oldest.vm,
    newest: newest.time,
    newestVm: newest.vm,
    spreadMs: newest.ms - oldest.ms,
    approximate,
  };
}
