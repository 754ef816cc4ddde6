import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWorld, type VmSpec, type World } from '../../simulators/index.ts';
import { HOUR, MIN, twoSites, writesBy } from './world-fixture.ts';

const START = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(START + ms).toISOString();

/**
 * Two VMs on one east → west link, both every 30 s at phase 0: `quiet` writes 2/s, `busy` 10/s.
 * Throttled to 30,000 B/s, each gets 15,000 B/s: 450,000 B, 109 writes of 4 KiB, per cycle.
 * `quiet` (60 writes a cycle) still gets everything across; `busy` (300) falls behind by 191.
 */
function throttledWorld(): World {
  const vm = (name: string, writesPerSec: number, host: string): VmSpec => ({
    name,
    site: 'east',
    host,
    workload: { writesPerSec, bytesPerWrite: 4096 },
    replication: { site: 'west', host: 'hw1', frequencySec: 30, recoveryPoints: 24, phaseMs: 0 },
  });
  return createWorld({
    seed: 5,
    clock: { mode: 'manual' },
    sites: [
      { name: 'east', hosts: [{ name: 'he1' }, { name: 'he2' }] },
      { name: 'west', hosts: [{ name: 'hw1' }] },
    ],
    links: [{ between: ['east', 'west'], bandwidthBytesPerSec: 125_000_000 }],
    vms: [vm('quiet', 2, 'he1'), vm('busy', 10, 'he2')],
  });
}

const PER_CYCLE = Math.floor(450_000 / 4096);

describe('recovery point times on a throttled link (issue 10: a partly shipped cycle was stamped with the cycle time)', () => {
  it("stamps each VM's latest point with the time of the newest write it holds, so their spread shows", async () => {
    const world = throttledWorld();
    const throttledAt = 50 * MIN;
    world.advance(throttledAt); // the 50:00 cycle shipped everything of both
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 30_000 });
    const cycles = 40;
    world.advance(cycles * 30_000); // 50:30 … 70:00

    const [quiet] = await world.api.getRecoveryPoints('west', 'quiet');
    const [busy] = await world.api.getRecoveryPoints('west', 'busy');
    expect(PER_CYCLE).toBe(109);
    // quiet kept up: it holds everything up to the last cycle.
    expect(quiet).toMatchObject({ kind: 'latest', time: iso(throttledAt + cycles * 30_000) });
    // Sequence numbers are the simulator's ground truth, not the driver's: read them from its control.
    const seqOf = async (vm: string, id: string | undefined) =>
      (await world.api.replicationSeqs('west', vm)).points.find((p) => p.id === id)?.seq;
    expect(await seqOf('quiet', quiet?.id)).toBe(writesBy(throttledAt + cycles * 30_000, 2));
    // busy holds 109 writes more per cycle than at 50:00: write k of 10/s was acknowledged at k × 100 ms.
    const busySeq = writesBy(throttledAt, 10) + cycles * PER_CYCLE;
    expect(await seqOf('busy', busy?.id)).toBe(busySeq);
    expect(busy?.time).toBe(iso(busySeq * 100));
    // Almost 13 minutes apart, as their data is (it used to read 0 s).
    expect(Date.parse(quiet?.time ?? '') - Date.parse(busy?.time ?? '')).toBe(
      cycles * 30_000 - cycles * PER_CYCLE * 100,
    );
  });

  it('keeps LastReplicationTime at the last cycle that got everything across', async () => {
    const world = throttledWorld();
    world.advance(10 * MIN);
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 30_000 });
    world.advance(5 * MIN);
    expect((await world.api.getVM('west', 'busy')).replication?.lastReplicationTime).toBe(iso(10 * MIN));
    expect((await world.api.getVM('west', 'quiet')).replication?.lastReplicationTime).toBe(iso(15 * MIN));
    // Once the link carries the backlog again, the next full cycle moves it (and the point's time).
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 125_000_000 });
    world.advance(30_000);
    const view = await world.api.getVM('west', 'busy');
    expect(view.replication?.lastReplicationTime).toBe(iso(15 * MIN + 30_000));
    const [latest] = await world.api.getRecoveryPoints('west', 'busy');
    expect(latest?.time).toBe(iso(15 * MIN + 30_000));
  });

  it('stamps an hourly point taken from a partial cycle with its data time, and the ledger agrees', async () => {
    const world = throttledWorld();
    world.advance(50 * MIN);
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 30_000 });
    world.advance(20 * MIN); // the hourly point is taken at the 60:00 cycle, 20 cycles into the throttle
    const points = await world.api.getRecoveryPoints('west', 'busy');
    const hourly = points.find((p) => p.kind !== 'latest');
    const hourlySeq = writesBy(50 * MIN, 10) + 20 * PER_CYCLE;
    expect(hourly).toMatchObject({ time: iso(hourlySeq * 100) });
    const seqs = await world.api.replicationSeqs('west', 'busy');
    expect(seqs.points.find((p) => p.id === hourly?.id)?.seq).toBe(hourlySeq);

    // The judge: failing over to that point loses exactly the writes acknowledged after its time.
    const failoverAt = 70 * MIN;
    const { recoveryPoint } = await world.api.startVMFailover({
      site: 'west',
      vm: 'busy',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'id', id: hourly?.id ?? '' },
    });
    expect(recoveryPoint?.time).toBe(hourly?.time);
    const [failover] = world.truth().failovers;
    const lostAfterPointTime =
      writesBy(failoverAt, 10) - writesBy(Date.parse(hourly?.time ?? '') - START, 10);
    expect(failover?.lostWrites).toBe(lostAfterPointTime);
  });

  it('stamps a point shipped from a primary that stopped writing with the time it wrote, not the cycle', async () => {
    const world = throttledWorld();
    world.advance(10 * MIN);
    world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: 30_000 });
    world.advance(2 * MIN); // 4 partial cycles: busy is 4 × 191 writes behind
    await world.api.stopVM({ site: 'east', vm: 'busy', epoch: 1, turnOff: true });
    world.advance(30_000); // one more partial cycle, now from the stopped run
    const [busy] = await world.api.getRecoveryPoints('west', 'busy');
    const seq = writesBy(10 * MIN, 10) + 5 * PER_CYCLE;
    expect(busy).toMatchObject({ time: iso(seq * 100) });
    const seqs = await world.api.replicationSeqs('west', 'busy');
    expect(seqs.points.find((p) => p.id === busy?.id)?.seq).toBe(seq);
  });
});

describe('a recovery point never claims data it does not hold (property)', () => {
  it('every write a failover to `latest` loses was acknowledged after the point’s time, on any throttle', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rate: fc.integer({ min: 1, max: 40 }),
          bandwidth: fc.integer({ min: 1_000, max: 400_000 }),
          throttleAt: fc.integer({ min: 0, max: 2 * HOUR }),
          stopAfter: fc.option(fc.integer({ min: 0, max: 2 * HOUR }), { nil: undefined }),
          failoverAfter: fc.integer({ min: 1, max: 2 * HOUR }),
        }),
        async ({ rate, bandwidth, throttleAt, stopAfter, failoverAfter }) => {
          const world = twoSites({ workload: { writesPerSec: rate, bytesPerWrite: 4096 } });
          try {
            world.advance(throttleAt);
            world.fault({ kind: 'throttle', from: 'east', to: 'west', bandwidthBytesPerSec: bandwidth });
            // The judge's own model of the workload: one run from 0 at `rate`, until the stop.
            let stopAt = Number.POSITIVE_INFINITY;
            if (stopAfter !== undefined) {
              world.advance(stopAfter);
              stopAt = throttleAt + stopAfter;
              await world.api.stopVM({ site: 'east', vm: 'vm-a', epoch: 1, turnOff: true });
            }
            world.advance(failoverAfter);
            const failoverAt = throttleAt + (stopAfter ?? 0) + failoverAfter;
            const { recoveryPoint } = await world.api.startVMFailover({
              site: 'west',
              vm: 'vm-a',
              epoch: 1,
              mode: 'failover',
              recoveryPoint: { kind: 'latest' },
            });
            const acknowledgedBy = (t: number) => writesBy(Math.min(t, stopAt), rate);
            const pointMs = Date.parse(recoveryPoint?.time ?? '') - START;
            const [failover] = world.truth().failovers;
            // Never an understatement: the writes after the point's time include every lost one…
            const claimed = acknowledgedBy(failoverAt) - acknowledgedBy(pointMs);
            expect(claimed).toBeGreaterThanOrEqual(failover?.lostWrites ?? -1);
            // …and the point's time is the time of its newest write (to the ms), not a cycle later.
            expect(claimed - (failover?.lostWrites ?? 0)).toBeLessThanOrEqual(1);
          } finally {
            world.close();
          }
        },
      ),
      { numRuns: 60, seed: 10 },
    );
  });
});
