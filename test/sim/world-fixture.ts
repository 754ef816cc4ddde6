import { createWorld, type VmSpec, type World, type WorldSpec } from '../../simulators/index.ts';

export const HOUR = 3_600_000;
export const MIN = 60_000;

/** Writes acknowledged by a VM writing `rate`/s from t=0 until `tMs`, computed from the workload's definition. */
export function writesBy(tMs: number, rate: number): number {
  return Math.floor((tMs * rate) / 1000);
}

/**
 * Two sites (east → west) on the manual clock: `vm-a` replicates every 30 s with phase 0, 24
 * hourly points, every 4th application-consistent, 10 writes/s, boot time fixed at 10 s.
 */
export function twoSites(overrides: Partial<VmSpec> = {}, extra: Partial<WorldSpec> = {}): World {
  return createWorld({
    seed: 3,
    clock: { mode: 'manual' },
    sites: [
      { name: 'east', hosts: [{ name: 'he1' }, { name: 'he2' }], networks: [{ name: 'prod' }] },
      {
        name: 'west',
        hosts: [{ name: 'hw1' }, { name: 'hw2' }],
        networks: [{ name: 'prod' }, { name: 'drill', isolated: true }],
      },
    ],
    links: [{ between: ['east', 'west'], bandwidthBytesPerSec: 125_000_000 }],
    vms: [
      {
        name: 'vm-a',
        site: 'east',
        host: 'he1',
        boot: 10_000,
        network: { network: 'prod', ip: '10.0.0.5' },
        workload: { writesPerSec: 10, bytesPerWrite: 4096 },
        replication: {
          site: 'west',
          host: 'hw1',
          frequencySec: 30,
          recoveryPoints: 24,
          appConsistentEveryHours: 4,
          phaseMs: 0,
        },
        ...overrides,
      },
    ],
    ...extra,
  });
}

export const at = (epoch: number) => ({ epoch });
