import type { FailedOverRecord, LockHolder } from '../../engine/locks/index.ts';
import type { PlanVm, RecoveryPlan } from '../../engine/plan/types.ts';
import type { Inventory, SiteRead } from '../../engine/preflight/index.ts';
import type { HostView, NetworkView, RecoveryPoint, VmView } from '../../simulators/api.ts';

export const NOW = new Date('2026-01-01T12:00:00.000Z');

/** A normalized plan written by hand: source dc-east → target dc-west. */
export function makePlan(
  vms: Array<Partial<PlanVm> & { name: string }>,
  extra: Partial<RecoveryPlan> = {},
): RecoveryPlan {
  return {
    apiVersion: 'dr/v1',
    kind: 'RecoveryPlan',
    metadata: { name: 'erp', labels: {} },
    source: 'dc-east',
    target: 'dc-west',
    recoveryPoint: { kind: 'latest' },
    vms: vms.map((vm) => ({
      dependsOn: [],
      readiness: { checks: [], timeoutMs: 600_000, onTimeout: 'fail' },
      bootEstimateMs: 60_000,
      network: {},
      onFailure: { retries: 2, backoff: { initialMs: 5000, factor: 2, maxMs: 60_000 }, outcome: 'fail-plan' },
      ...vm,
    })),
    groups: [],
    actions: [],
    targets: {},
    drill: { maxDurationMs: 86_400_000 },
    automaticFailover: {
      enabled: false,
      mode: 'failover',
      afterMs: 300_000,
      recoveryPoint: { kind: 'latest' },
      vetoMs: 0,
    },
    ...extra,
  };
}

/** The replica of `name` at dc-west, replicating from dc-east in Normal health. */
export function replica(
  name: string,
  over: Partial<VmView> = {},
  replication: Partial<NonNullable<VmView['replication']>> = {},
): VmView {
  return {
    site: 'dc-west',
    host: 'w1',
    name,
    isTest: false,
    state: 'Off',
    heartbeat: 'NoContact',
    replication: {
      mode: 'Replica',
      state: 'Replicating',
      health: 'Normal',
      primarySite: 'dc-east',
      replicaSite: 'dc-west',
      frequencySec: 300,
      lastReplicationTime: new Date(NOW.getTime() - 60_000).toISOString(),
      resyncRequired: false,
      ...replication,
    },
    network: null,
    automaticStartAction: 'StartIfRunning',
    uptimeSec: 3600,
    epoch: 0,
    startBarred: false,
    memoryMb: 4096,
    ...over,
  };
}

export function host(name: string, over: Partial<HostView> = {}): HostView {
  return {
    site: 'dc-west',
    name,
    powered: true,
    vmSlots: 100,
    memoryMb: 100 * 4096,
    usedSlots: 0,
    usedMemoryMb: 0,
    maxConcurrentBoots: 8,
    booting: 0,
    ...over,
  };
}

export function latestPoint(vm: string, ageMs = 60_000): RecoveryPoint {
  return {
    id: `dc-west.${vm}.latest`,
    kind: 'latest',
    time: new Date(NOW.getTime() - ageMs).toISOString(),
  };
}

export interface InventoryInput {
  vms: VmView[];
  hosts?: HostView[];
  networks?: NetworkView[];
  points?: Record<string, RecoveryPoint[]>;
  from?: SiteRead;
  planLock?: LockHolder;
  locks?: Record<string, LockHolder>;
  failedOver?: Record<string, FailedOverRecord>;
}

/** A snapshot of dc-west; every replica has a one-minute-old `latest` point unless `points` says otherwise. */
export function makeInventory(input: InventoryInput): Inventory {
  const points = new Map(
    input.vms
      .filter((v) => !v.isTest)
      .map((v) => [v.name, { ok: true as const, points: input.points?.[v.name] ?? [latestPoint(v.name)] }]),
  );
  return {
    now: NOW,
    to: {
      ok: true,
      site: 'dc-west',
      vms: input.vms,
      hosts: input.hosts ?? [host('w1')],
      networks: input.networks ?? [
        { site: 'dc-west', name: 'prod-west', isolated: false },
        { site: 'dc-west', name: 'drill-net', isolated: true },
      ],
    },
    ...(input.from === undefined ? {} : { from: input.from }),
    recoveryPoints: points,
    ...(input.planLock === undefined ? {} : { planLock: input.planLock }),
    locks: new Map(Object.entries(input.locks ?? {})),
    failedOver: new Map(Object.entries(input.failedOver ?? {})),
    apiCalls: 0,
    locksRead: true,
  };
}

export function codes(findings: ReadonlyArray<{ code: string; vm?: string }>): string[] {
  return findings.map((f) => (f.vm === undefined ? f.code : `${f.code}:${f.vm}`));
}
