import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { primarySitesAt, SimError, type World, type WorldTruth } from '../../simulators/index.ts';
import { twoSites } from './world-fixture.ts';

type Op =
  | { op: 'advance'; ms: number }
  | { op: 'start' | 'stop' | 'fence'; site: 'east' | 'west'; epoch: number }
  | { op: 'failover'; epoch: number; point: 'latest' | 'latestProcessed' }
  | { op: 'crash' | 'restore'; site: 'east' | 'west' }
  | { op: 'link'; up: boolean };

const site = fc.constantFrom('east' as const, 'west' as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3 * 3_600_000 }) }),
  fc.record({
    op: fc.constantFrom('start' as const, 'stop' as const, 'fence' as const),
    site,
    epoch: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({
    op: fc.constant('failover' as const),
    epoch: fc.integer({ min: 0, max: 5 }),
    point: fc.constantFrom('latest' as const, 'latestProcessed' as const),
  }),
  fc.record({ op: fc.constantFrom('crash' as const, 'restore' as const), site }),
  fc.record({ op: fc.constant('link' as const), up: fc.boolean() }),
);

/** Apply ops, swallowing the simulator's typed refusals; returns how many mutating calls were made. */
async function play(world: World, ops: Op[]): Promise<number> {
  let calls = 0;
  const host = (s: 'east' | 'west') => (s === 'east' ? 'he1' : 'hw1');
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'advance':
          world.advance(o.ms);
          break;
        case 'start':
          calls++;
          await world.api.startVM({ site: o.site, vm: 'vm-a', epoch: o.epoch });
          break;
        case 'stop':
          calls++;
          await world.api.stopVM({ site: o.site, vm: 'vm-a', epoch: o.epoch });
          break;
        case 'fence':
          calls++;
          await world.api.fenceVM({ site: o.site, vm: 'vm-a', epoch: o.epoch });
          break;
        case 'failover':
          calls++;
          await world.api.startVMFailover({
            site: 'west',
            vm: 'vm-a',
            epoch: o.epoch,
            mode: 'failover',
            recoveryPoint: { kind: o.point },
          });
          break;
        case 'crash':
          world.fault({ kind: 'host-crash', site: o.site, host: host(o.site) });
          break;
        case 'restore':
          world.fault({ kind: 'host-up', site: o.site, host: host(o.site) });
          break;
        case 'link':
          world.fault({ kind: 'link', from: 'east', to: 'west', state: o.up ? 'up' : 'down' });
          break;
      }
    } catch (error) {
      if (!(error instanceof SimError)) throw error;
    }
  }
  return calls;
}

function countAll(record: WorldTruth['mutations']): number {
  let n = 0;
  for (const bySite of Object.values(record))
    for (const byOp of Object.values(bySite)) for (const c of Object.values(byOp)) n += c;
  return n;
}

describe('the ground truth under random operations', () => {
  it('is consistent with itself and identical for the same calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const world = twoSites({ boot: { minMs: 1_000, maxMs: 90_000 } });
        const calls = await play(world, ops);
        const truth = world.truth();
        // Every mutating call is counted, accepted or refused.
        expect(countAll(truth.mutations)).toBe(calls);
        // Loss is exactly acknowledged minus recovered, never negative.
        for (const f of truth.failovers) {
          expect(f.lostWrites).toBe(Math.max(0, f.lastAckedSeq - f.recoveryPoint.seq));
          expect(f.lostSeqRange === null ? 0 : f.lostSeqRange[1] - f.lostSeqRange[0] + 1).toBe(f.lostWrites);
        }
        // Split-brain intervals are exactly the moments the timeline shows two primaries.
        for (const s of truth.splitBrain) {
          const mid = new Date((Date.parse(s.from) + Date.parse(s.to ?? truth.now)) / 2).toISOString();
          if (Date.parse(s.to ?? truth.now) > Date.parse(s.from))
            expect(primarySitesAt(truth, 'vm-a', mid).length).toBeGreaterThanOrEqual(2);
        }
        const boundaries = (truth.vms['vm-a']?.timeline ?? []).flatMap((i) => [i.from, i.to ?? truth.now]);
        for (const b of boundaries) {
          const t = Date.parse(b);
          const inSplit = truth.splitBrain.some(
            (s) => Date.parse(s.from) <= t && t < Date.parse(s.to ?? '9999-01-01T00:00:00Z'),
          );
          if (t < Date.parse(truth.now)) expect(primarySitesAt(truth, 'vm-a', b).length >= 2).toBe(inSplit);
        }
        // Same seed, same calls, same truth.
        const again = twoSites({ boot: { minMs: 1_000, maxMs: 90_000 } });
        await play(again, ops);
        expect(again.truth()).toEqual(truth);
      }),
      { numRuns: process.env.SOAK === '1' ? 2_000 : 60 },
    );
  });
});
