import type { RecoveryPlan } from '../engine/plan/index.ts';
import type { ClockOptions } from './clock.ts';
import { createWorld, type World } from './create-world.ts';
import type { HostSpec, SiteSpec, VmSpec, WorldSpec } from './spec.ts';

export interface ForPlanOptions {
  /** @defaultValue 1 */
  seed?: number;
  /** ISO time of simulated ms 0. @defaultValue '2026-01-01T00:00:00.000Z' */
  start?: string;
  clock?: ClockOptions;
  /** Virtual time run before the world is handed over, so recovery points exist. @defaultValue 2 h */
  warmupMs?: number;
  /** @defaultValue 50 */
  vmSlotsPerHost?: number;
  /** @defaultValue 8 */
  maxConcurrentBoots?: number;
  /** @defaultValue 30 */
  frequencySec?: 30 | 300 | 900;
  /** @defaultValue 10 */
  writesPerSec?: number;
}

/**
 * A two-site world matching a plan: every VM Running as primary at `plan.source`, replicating to
 * `plan.target` every 30 s with 24 hourly points (every 4th application-consistent), boot times
 * drawn from [0.5, 1] × the VM's boot estimate, a link with room for twice the write rate,
 * production networks on both sites, the plan's
 * failover networks on the target, and its test networks on the target as isolated networks.
 * VMs are spread round-robin over hosts so no host carries more than its share of boots.
 */
export function worldSpecForPlan(plan: RecoveryPlan, options: ForPlanOptions = {}): WorldSpec {
  const slots = options.vmSlotsPerHost ?? 50;
  const hostCount = Math.max(1, Math.ceil(plan.vms.length / slots));
  const hosts = (site: string): HostSpec[] =>
    Array.from({ length: hostCount }, (_, i) => ({
      name: hostName(site, i),
      vmSlots: slots,
      memoryMb: slots * 4096 + 65_536,
      maxConcurrentBoots: options.maxConcurrentBoots ?? 8,
    }));
  const targetNetworks = new Map<string, boolean>([['production', false]]);
  for (const vm of plan.vms) {
    if (vm.network.failover)
      targetNetworks.set(
        vm.network.failover.network,
        targetNetworks.get(vm.network.failover.network) ?? false,
      );
    if (vm.network.test) targetNetworks.set(vm.network.test.network, true);
  }
  const sites: SiteSpec[] = [
    { name: plan.source, hosts: hosts(plan.source), networks: [{ name: 'production' }] },
    {
      name: plan.target,
      hosts: hosts(plan.target),
      networks: [...targetNetworks].map(([name, isolated]) => ({ name, isolated })),
    },
  ];
  const vms: VmSpec[] = plan.vms.map((vm, i) => ({
    name: vm.name,
    site: plan.source,
    host: hostName(plan.source, i % hostCount),
    memoryMb: 4096,
    state: 'Running',
    network: {
      network: 'production',
      ip: `10.${Math.floor(i / 65_025) % 256}.${Math.floor(i / 255) % 255}.${(i % 255) + 1}`,
    },
    boot: { minMs: Math.round(vm.bootEstimateMs * 0.5), maxMs: vm.bootEstimateMs },
    automaticStartAction: 'StartIfRunning',
    workload: { writesPerSec: options.writesPerSec ?? 10 },
    replication: {
      site: plan.target,
      host: hostName(plan.target, i % hostCount),
      frequencySec: options.frequencySec ?? 30,
      recoveryPoints: 24,
      appConsistentEveryHours: 4,
    },
  }));
  return {
    seed: options.seed ?? 1,
    start: options.start,
    clock: options.clock,
    sites,
    // At least 1 Gbit/s, and twice the plan's total write rate, so a fresh world replicates on time.
    links: [
      {
        between: [plan.source, plan.target],
        bandwidthBytesPerSec: Math.max(
          125_000_000,
          2 * plan.vms.length * (options.writesPerSec ?? 10) * 4096,
        ),
      },
    ],
    vms,
  };
}

/**
 * Virtual time a for-plan world runs before it is used: long enough for replication to settle and
 * for the first application-consistent point (taken every 4 h), so a plan that asks for
 * `latestAppConsistent` can be tried at once.
 */
export const FOR_PLAN_WARMUP_MS = 5 * 3_600_000;

/** `worldSpecForPlan`, built and warmed up. */
export function worldForPlan(plan: RecoveryPlan, options: ForPlanOptions = {}): World {
  const world = createWorld(worldSpecForPlan(plan, options));
  world.advance(options.warmupMs ?? FOR_PLAN_WARMUP_MS);
  return world;
}

function hostName(site: string, i: number): string {
  return `hv-${site}-${String(i + 1).padStart(2, '0')}`;
}
