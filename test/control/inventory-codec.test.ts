import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePoints,
  encodePoints,
  encodeVm,
  type WirePoint,
} from '../../engine/control/inventory/index.ts';

const time = fc
  .integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2040-01-01T00:00:00Z') })
  .map((ms) => new Date(ms).toISOString());
const point = fc.record({
  id: fc.string({ minLength: 1, maxLength: 40 }),
  kind: fc.constantFrom('standard' as const, 'appConsistent' as const),
  time,
});

describe('the vault encoding of recovery points', () => {
  it('gives back every list exactly, whatever the ids and times', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 30 }), (points: WirePoint[]) => {
        expect(decodePoints(null, encodePoints(points))).toEqual(points);
      }),
      { numRuns: 2_000 },
    );
  });

  it('puts the latest point (kept in the VM record) first', () => {
    const record = encodeVm({
      name: 'vm',
      host: 'h',
      isTest: false,
      state: 'Off',
      heartbeat: 'NoContact',
      automaticStartAction: 'Nothing',
      epoch: 0,
      startBarred: false,
      memoryMb: 1,
      network: null,
      replication: null,
      latest: { id: 'site.vm.latest', time: '2026-01-01T01:00:00.000Z' },
    });
    const hourly = [{ id: 'site.vm.1', kind: 'standard' as const, time: '2026-01-01T00:00:00.000Z' }];
    expect(decodePoints(record, encodePoints(hourly))).toEqual([
      { id: 'site.vm.latest', kind: 'latest', time: '2026-01-01T01:00:00.000Z' },
      ...hourly,
    ]);
  });
});
