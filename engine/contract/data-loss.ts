/**
 * A failover's data-loss window, claimed from what production gives the engine: the recovery
 * point's time (the newest data it holds), the replica's last replication time, and until when the
 * old primary was last known able to write, by the engine's own reads (a fence that turned it off,
 * a shutdown, a read that found it off or running, its site's last heartbeat). Write counts are
 * not part of it: Hyper-V has none (the simulator's ledger judges the claim in tests).
 *
 * Pure: the failover handler builds the claim, the orchestrator records it (the execution's
 * `dataLoss` entries and its `data-loss` event).
 */

/**
 * How far the window's end is known:
 * - `exact`: the engine stopped the primary itself (fence, planned shutdown) at `windowEnd`;
 * - `atMost`: the primary was found off at `windowEnd`; it stopped at some time before;
 * - `atLeast`: the primary was not seen off; it was last known able to write at `windowEnd` and
 *   may have written on after it (a lost site, a cut link, a dead agent).
 */
export type LossBound = 'exact' | 'atMost' | 'atLeast';

export const LOSS_BOUNDS = ['exact', 'atMost', 'atLeast'] as const satisfies readonly LossBound[];

/** One VM's claim: writes the old primary acknowledged in [windowStart, windowEnd] are not on the recovered VM. */
export interface DataLossClaim {
  vm: string;
  /** The recovery point failed over to (id), when known. */
  recoveryPoint?: string;
  /** Time of the newest data the point holds (ISO, host time). */
  recoveryPointTime: string;
  /** = recoveryPointTime: everything before it is on the recovered VM. */
  windowStart: string;
  /** Until when the old primary was (last known) able to write, as `bound` says (ISO, host time). */
  windowEnd: string;
  /** windowEnd − windowStart in ms (host time: simulated time against the simulator). */
  windowMs: number;
  bound: LossBound;
  /** Why, in words: which reads of which site and when. */
  basis: string;
}

/** What the engine last knew of the old primary at its site (engine/locks sightings). */
export interface PrimarySighting {
  /** Last host time the engine read it Running or Starting. */
  runningAt?: string;
  /** When the engine turned it off (`fence`, `shutdown`) or found it off (`read`). */
  off?: { at: string; by: 'fence' | 'shutdown' | 'read' };
  /** Last heartbeat of its site (the site's agent read its hosts powered). */
  siteHeartbeatAt?: string;
}

export interface LossEvidence {
  vm: string;
  /** Site of the old primary. */
  site: string;
  recoveryPoint?: string;
  recoveryPointTime: string;
  /** The replica's LastReplicationTime before the failover: the primary's host shipped then. */
  lastReplicationTime?: string;
  primary: PrimarySighting;
}

const ms = (iso: string): number => Date.parse(iso);

/** The newest of the given times (ISO), with the name of the read it came from. */
function newest(times: [string, string | undefined][]): { at: string; what: string } | undefined {
  let best: { at: string; what: string } | undefined;
  for (const [what, at] of times) {
    if (at === undefined || Number.isNaN(ms(at))) continue;
    if (best === undefined || ms(at) > ms(best.at)) best = { at, what };
  }
  return best;
}

/**
 * The claim for one unplanned failover (or change of recovery point). An off-sighting counts only
 * when it is not older than the last running one (the VM may have been started again since).
 */
export function claimDataLoss(evidence: LossEvidence): DataLossClaim {
  const { vm, site, primary } = evidence;
  const start = evidence.recoveryPointTime;
  const off =
    primary.off !== undefined &&
    (primary.runningAt === undefined || ms(primary.off.at) >= ms(primary.runningAt))
      ? primary.off
      : undefined;
  const alive = newest([
    ['last replication', evidence.lastReplicationTime],
    ['read running', primary.runningAt],
    // A heartbeat says the site was up; it speaks for the VM only while it was not seen off.
    [`${site} heartbeat`, off === undefined ? primary.siteHeartbeatAt : undefined],
  ]);
  let end: string;
  let bound: LossBound;
  let basis: string;
  if (off !== undefined) {
    end = off.at;
    if (off.by === 'read') {
      bound = 'atMost';
      basis = `${vm} found off at ${site} at ${off.at}${alive ? `; last known able to write at ${alive.at} (${alive.what})` : ''}: it stopped in between`;
    } else {
      bound = 'exact';
      basis = `${vm} turned off at ${site} at ${off.at} by the engine's ${off.by === 'fence' ? 'fence' : 'shutdown'}`;
    }
  } else {
    end = alive?.at ?? start;
    bound = 'atLeast';
    basis = `${vm} not seen off at ${site}; last known able to write at ${end} (${alive?.what ?? 'the recovery point'}): it may have written on after that`;
  }
  const endMs = Math.max(ms(start), ms(end));
  const windowEnd = new Date(endMs).toISOString();
  return {
    vm,
    ...(evidence.recoveryPoint === undefined ? {} : { recoveryPoint: evidence.recoveryPoint }),
    recoveryPointTime: start,
    windowStart: start,
    windowEnd,
    windowMs: endMs - ms(start),
    bound,
    basis,
  };
}

/**
 * A planned failover's claim once its zero loss is proven (failover handler): the primary was
 * shut down before Start-VMFailover -Prepare, prepare sent the pending log, the replica's newest
 * point is at or after the shutdown and nothing is pending.
 */
export function zeroLossClaim(
  vm: string,
  point: { id?: string; time: string },
  basis: string,
): DataLossClaim {
  return {
    vm,
    ...(point.id === undefined ? {} : { recoveryPoint: point.id }),
    recoveryPointTime: point.time,
    windowStart: point.time,
    windowEnd: point.time,
    windowMs: 0,
    bound: 'exact',
    basis,
  };
}

/** "30 s", "at least 20 s", "at most 5 min 3 s": the claim's size in words. */
export function describeClaimSize(
  claim: Pick<DataLossClaim, 'bound' | 'windowMs'>,
  format: (ms: number) => string,
): string {
  const size = format(claim.windowMs);
  return claim.bound === 'exact' ? size : `${claim.bound === 'atMost' ? 'at most' : 'at least'} ${size}`;
}
