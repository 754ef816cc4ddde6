/**
 * The data-loss claim (engine/contract/data-loss.ts) from the engine's own evidence, and the
 * ledger's judge of it (test/support/judge.ts) catching an understatement.
 */
import { describe, expect, it } from 'vitest';
import { dataLossLines } from '../../engine/cli/run/summary.ts';
import { claimDataLoss, type DataLossClaim } from '../../engine/contract/index.ts';
import type { WorldTruth } from '../../simulators/index.ts';
import { judgeClaim } from '../support/judge.ts';

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 10, 0, s)).toISOString();
const base = { vm: 'sql-01', site: 'dc-east', recoveryPoint: 'p', recoveryPointTime: t(0) };

describe('a data-loss claim', () => {
  it('ends exactly at the fence that turned a running primary off', () => {
    const claim = claimDataLoss({
      ...base,
      lastReplicationTime: t(0),
      primary: { runningAt: t(5), off: { at: t(42), by: 'fence' }, siteHeartbeatAt: t(50) },
    });
    expect(claim).toMatchObject({ windowStart: t(0), windowEnd: t(42), windowMs: 42_000, bound: 'exact' });
    expect(claim.basis).toBe(`sql-01 turned off at dc-east at ${t(42)} by the engine's fence`);
  });

  it('is at most until a read that found the primary off, and names the last sign of life', () => {
    const claim = claimDataLoss({
      ...base,
      lastReplicationTime: t(10),
      primary: { off: { at: t(90), by: 'read' } },
    });
    expect(claim).toMatchObject({ windowEnd: t(90), bound: 'atMost' });
    expect(claim.basis).toContain(`last known able to write at ${t(10)} (last replication)`);
  });

  it('is at least until the last sign of life when the primary was not seen off (a lost site)', () => {
    const claim = claimDataLoss({
      ...base,
      lastReplicationTime: t(0),
      primary: { runningAt: t(12), siteHeartbeatAt: t(20) },
    });
    expect(claim).toMatchObject({ windowEnd: t(20), windowMs: 20_000, bound: 'atLeast' });
    expect(claim.basis).toContain('(dc-east heartbeat): it may have written on after that');
  });

  it('ignores an off-sighting older than a later running one (the VM was started again)', () => {
    const claim = claimDataLoss({
      ...base,
      primary: { off: { at: t(5), by: 'fence' }, runningAt: t(30) },
    });
    expect(claim).toMatchObject({ windowEnd: t(30), bound: 'atLeast' });
  });

  it('is empty when the point is newer than the end (a cycle shipped everything after the fence)', () => {
    const claim = claimDataLoss({
      ...base,
      recoveryPointTime: t(60),
      primary: { off: { at: t(42), by: 'fence' } },
    });
    expect(claim).toMatchObject({ windowStart: t(60), windowEnd: t(60), windowMs: 0, bound: 'exact' });
  });
});

describe('the ledger judging a claim', () => {
  const record = {
    vm: 'sql-01',
    kind: 'unplanned',
    fromSite: 'dc-east',
    toSite: 'dc-west',
    at: t(100),
    atMs: 0,
    recoveryPoint: { id: 'p', seq: 100, time: t(0) },
    lastAckedSeq: 520,
    lostWrites: 420,
    lostSeqRange: [101, 520],
    lostTimeRange: { first: t(1), last: t(42) },
    writesAfterFailover: 0,
  } satisfies WorldTruth['failovers'][number];
  const claim: DataLossClaim = {
    vm: 'sql-01',
    recoveryPoint: 'p',
    recoveryPointTime: t(0),
    windowStart: t(0),
    windowEnd: t(42),
    windowMs: 42_000,
    bound: 'exact',
    basis: 'fenced',
  };
  const judge = { intervalMs: 30_000, writeGapMs: 100 };

  it('upholds a claim that holds every lost write', () => {
    expect(judgeClaim(claim, record, judge)).toEqual([]);
  });

  it('rejects an understatement: a window ending before the last lost write', () => {
    const short = { ...claim, windowEnd: t(40), windowMs: 40_000 };
    expect(judgeClaim(short, record, judge)).toEqual([
      `sql-01 (exact): a write of ${t(42)} is lost, after the window's end ${t(40)}`,
    ]);
  });

  it('rejects a window more than one interval wider than the truth, and an "at least" beyond it', () => {
    const wide = { ...claim, windowEnd: t(80), windowMs: 80_000 };
    expect(judgeClaim(wide, record, judge)[0]).toContain('more than one interval');
    const atLeast = { ...claim, bound: 'atLeast' as const, windowEnd: t(50), windowMs: 50_000 };
    expect(judgeClaim(atLeast, record, judge)[0]).toContain('claims at least until');
  });
});

describe('the run summary of the claims', () => {
  const claim = (vm: string, windowMs: number, bound: DataLossClaim['bound']): DataLossClaim => ({
    vm,
    recoveryPointTime: t(0),
    windowStart: t(0),
    windowEnd: new Date(Date.parse(t(0)) + windowMs).toISOString(),
    windowMs,
    bound,
    basis: `basis of ${vm}`,
  });

  it('shows the widest windows first, says "at least" where the end is unknown, and sums up the lossless', () => {
    const lines = dataLossLines([
      claim('a', 0, 'exact'),
      claim('b', 5_000, 'exact'),
      claim('c', 20_000, 'atLeast'),
      claim('d', 0, 'exact'),
    ]);
    expect(lines[0]).toBe(
      "  data loss (the engine's claim, host time): widest window 20.0s; 1 VM(s) at least that (the old primary may have written on)",
    );
    expect(lines[1]).toMatch(
      /^ {4}c +at least 20\.0s +2026-01-01T10:00:00\.000Z → 2026-01-01T10:00:20\.000Z$/,
    );
    expect(lines[2]).toBe('      basis of c');
    expect(lines[3]).toMatch(/^ {4}b +5\.0s +2026-01-01T10:00:00\.000Z → 2026-01-01T10:00:05\.000Z$/);
    expect(lines[4]).toBe('      basis of b');
    expect(lines[5]).toBe('    2 VM(s) lost nothing, e.g. basis of a');
  });
});
