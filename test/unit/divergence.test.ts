/**
 * The fold of a failover's log into divergences (engine/executor/divergence.ts): one episode per
 * run of an old primary however many times it was seen, an acknowledgement that covers what was
 * seen before it, and a VM seen running again after it standing again.
 */
import { describe, expect, it } from 'vitest';
import type { Divergence, EngineEvent } from '../../engine/contract/index.ts';
import { divergenceLine, divergencesOf, standingDivergences } from '../../engine/executor/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function diverged(vm: string, fromMs: number, untilMs: number, more: Partial<Divergence> = {}): EngineEvent {
  return {
    v: 1,
    at: iso(untilMs),
    type: 'diverged',
    execution: 'ex1',
    vm,
    site: 'dc-east',
    runsAt: 'dc-west',
    ranFrom: iso(fromMs),
    ranUntil: iso(untilMs),
    ranMs: untilMs - fromMs,
    fenced: true,
    discard: { since: iso(-30_000), bytes: 5 * 1024 * 1024 },
    detectedBy: 'late-fence',
    ...more,
  };
}

function acknowledged(vms: string[], at: number): EngineEvent {
  return {
    v: 1,
    at: iso(at),
    type: 'divergence-acknowledged',
    execution: 'ex1',
    reprotect: 'ex1-reprotect-1',
    vms,
    by: 'alice',
    reason: 'test writes only',
    givenAt: iso(at),
  };
}

describe('divergences in a failover log', () => {
  it('merges sightings of one run (reprotect saw it running, then the agent fenced it) into one episode', () => {
    const [d] = divergencesOf([
      diverged('db', 0, 60_000, { fenced: false, detectedBy: 'reprotect-check' }),
      diverged('db', 0, 90_000, { detectedBy: 'fence-sweep' }),
    ]);
    expect(d).toMatchObject({ vm: 'db', totalRanMs: 90_000, fenced: true });
    expect(d?.episodes).toHaveLength(1);
    expect(d?.episodes[0]).toMatchObject({ ranFrom: iso(0), ranUntil: iso(90_000), ranMs: 90_000 });
    expect(divergenceLine(d ?? (undefined as never))).toBe(
      `db ran at dc-east for 1m30s while failed over to dc-west (host time ${iso(0)} → ${iso(90_000)}), fenced; reprotect would discard its writes since ${iso(-30_000)}, ~5.0 MB`,
    );
  });

  it('counts separate runs apart, and says when one is not fenced', () => {
    const [d] = divergencesOf([
      diverged('db', 0, 60_000),
      diverged('db', 120_000, 150_000, { fenced: false }),
    ]);
    expect(d).toMatchObject({ totalRanMs: 90_000, fenced: false });
    expect(d?.episodes).toHaveLength(2);
    expect(divergenceLine(d ?? (undefined as never))).toContain('(2 times)');
    expect(divergenceLine(d ?? (undefined as never))).toContain('NOT fenced: it may still run at dc-east');
  });

  it('stops standing once acknowledged, and stands again when the VM is seen running after that', () => {
    const events = [diverged('db', 0, 60_000), diverged('web', 0, 60_000), acknowledged(['db'], 70_000)];
    expect(standingDivergences(divergencesOf(events)).map((d) => d.vm)).toEqual(['web']);
    const [db] = divergencesOf(events);
    expect(db?.acknowledged).toEqual({
      by: 'alice',
      reason: 'test writes only',
      givenAt: iso(70_000),
      reprotect: 'ex1-reprotect-1',
    });
    const again = [...events, diverged('db', 100_000, 130_000)];
    expect(standingDivergences(divergencesOf(again)).map((d) => d.vm)).toEqual(['db', 'web']);
  });
});
