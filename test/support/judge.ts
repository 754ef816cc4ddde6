/**
 * The simulator's ledger judges the engine's data-loss claims (engine/contract/data-loss.ts): the
 * engine never reads the ledger; tests compare what it claimed with what the ledger recorded.
 */
import type { DataLossClaim } from '../../engine/contract/index.ts';
import type { WorldTruth } from '../../simulators/index.ts';

type FailoverRecord = WorldTruth['failovers'][number];

/**
 * What is wrong with `claim` against the ledger's record of the same failover (empty: nothing).
 * - Never an understatement: no lost write before the window's start; for `exact`/`atMost`, none
 *   after its end either; for `atLeast`, the claimed minimum was really lost (the last lost write
 *   is not more than one write apart before the window's end).
 * - Not more than one replication interval wider than the truth (`exact`/`atMost`).
 * `writeGapMs`: time between two writes of the VM's workload (1000 / writes per second).
 */
export function judgeClaim(
  claim: DataLossClaim,
  truth: FailoverRecord,
  options: { intervalMs: number; writeGapMs: number },
): string[] {
  const problems: string[] = [];
  const start = Date.parse(claim.windowStart);
  const end = Date.parse(claim.windowEnd);
  const say = (what: string) => problems.push(`${claim.vm} (${claim.bound}): ${what}`);
  if (end - start !== claim.windowMs) say(`windowMs ${claim.windowMs} is not end − start (${end - start})`);
  if (claim.recoveryPointTime !== truth.recoveryPoint.time)
    say(`point time ${claim.recoveryPointTime}, the ledger's ${truth.recoveryPoint.time}`);
  if (truth.lostWrites === 0) {
    if (claim.bound === 'atLeast' ? claim.windowMs > options.writeGapMs : claim.windowMs > options.intervalMs)
      say(`claims a window of ${claim.windowMs} ms; the ledger lost nothing`);
    return problems;
  }
  const first = truth.lostTimeRange?.first;
  const last = truth.lostTimeRange?.last;
  if (first === undefined || last === undefined) {
    say(`the ledger cannot time its ${truth.lostWrites} lost writes`);
    return problems;
  }
  if (Date.parse(first) < start)
    say(`a write of ${first} is lost, before the window's start ${claim.windowStart}`);
  if (claim.bound === 'atLeast') {
    if (Date.parse(last) < end - options.writeGapMs)
      say(`claims at least until ${claim.windowEnd}; the last lost write is of ${last}`);
  } else {
    if (Date.parse(last) > end) say(`a write of ${last} is lost, after the window's end ${claim.windowEnd}`);
    if (end - Date.parse(last) > options.intervalMs)
      say(
        `the window ends ${end - Date.parse(last)} ms after the last lost write (${last}): more than one interval`,
      );
  }
  return problems;
}

/** The ledger's newest failover of `vm` of this kind, not cancelled. */
export function ledgerFailover(
  truth: WorldTruth,
  vm: string,
  kind: FailoverRecord['kind'],
): FailoverRecord | undefined {
  return truth.failovers.filter((f) => f.vm === vm && f.kind === kind && f.cancelledAt === undefined).at(-1);
}
