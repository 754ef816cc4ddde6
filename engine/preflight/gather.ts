import pLimit from 'p-limit';
import type { PrimarySighting } from '../contract/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import type { LockReader } from '../locks/index.ts';
import type { FailoverType, PlanVm, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { Inventory, PointsRead, SiteDataAge, SiteRead } from './types.ts';

/**
 * The reads pre-flight needs, and nothing more: the type itself keeps every mutating call of the
 * Hyper-V API out of reach. An API that serves a copy of the sites (the control plane's vault)
 * also says how old its copy of each site is (`asOf`); the report shows it.
 */
export type HyperVReadApi = Pick<
  HostDriver,
  'now' | 'listVMs' | 'listHosts' | 'listNetworks' | 'getRecoveryPoints'
> & { asOf?: (site: string) => Promise<SiteDataAge | undefined> };

export interface GatherOptions {
  type: FailoverType;
  fromSite: string;
  toSite: string;
  /** VMs whose recovery points, locks and records are read. */
  vms: readonly PlanVm[];
  recoveryPoint?: RecoveryPointChoice;
  locks?: LockReader;
  /** Simulated "now"; read from the API when absent. */
  now?: () => Date;
  /**
   * Which VMs' recovery points are listed (one Get-VMSnapshot call each). `needed`: only VMs whose
   * choice cannot be judged from Get-VMReplication's last replication time (latestAppConsistent,
   * at); the others' `latest` point is taken from that time (placement marked approximate).
   * `all`: every selected VM, so `--dry-run` shows each exact point id,
   * at one HTTP call per VM (about 3 s for 10,000 VMs, see BENCHMARKS.md).
   * @defaultValue 'needed'
   */
  points?: 'all' | 'needed';
  /**
   * Get-VMSnapshot calls in flight. The HTTP client sends the calls of one tick as one batch, so
   * a wider window means fewer round trips.
   * @defaultValue 256
   */
  concurrency?: number;
}

/**
 * Reads one inventory snapshot: per site three list calls (VMs, hosts, networks), the lock state
 * in three Redis reads and recovery points per VM with bounded concurrency, all at once. A site
 * that cannot be read is recorded, not thrown: the evaluator decides what it means (an unplanned
 * failover goes on without its source).
 */
export async function gatherInventory(
  api: HyperVReadApi,
  plan: RecoveryPlan,
  options: GatherOptions,
): Promise<Inventory> {
  let apiCalls = 0;
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    apiCalls++;
    return call();
  };
  const names = options.vms.map((vm) => vm.name);
  const readFrom = options.type !== 'test';
  // Recovery points are read alongside the site lists, not after them: a VM missing at the target
  // only costs one VM_NOT_FOUND answer, and the reads stop as soon as the target proves unreachable.
  const recoveryPoints = new Map<string, PointsRead>();
  let targetDown = false;
  const wanted = options.vms.filter(
    (vm) =>
      options.points === 'all' ||
      (options.type !== 'planned' && needsPointList(vm, plan, options.recoveryPoint)),
  );
  const pointsRead = pLimit(Math.max(1, options.concurrency ?? 256)).map(wanted, async (vm) => {
    if (targetDown) return;
    recoveryPoints.set(vm.name, await readPoints(api, options.toSite, vm.name, counted));
  });
  // What the engine last saw of the primaries, for the loss of an unplanned failover (a lost
  // source is measured to when its primaries were last seen, not to now).
  const sightings =
    options.type === 'unplanned' && options.locks?.readSightings
      ? options.locks.readSightings(options.fromSite, names).catch(() => new Map<string, PrimarySighting>())
      : Promise.resolve(new Map<string, PrimarySighting>());
  const [now, to, from, planLock, locks, failedOver, seen] = await Promise.all([
    options.now === undefined
      ? counted(() => api.now()).then((iso) => new Date(iso))
      : Promise.resolve(options.now()),
    readSite(api, options.toSite, counted).then((read) => {
      targetDown = !read.ok;
      return read;
    }),
    readFrom ? readSite(api, options.fromSite, counted) : Promise.resolve(undefined),
    options.locks?.readPlanLock(plan.metadata.name),
    options.locks?.readLocks(names) ?? Promise.resolve(new Map()),
    options.locks?.readFailedOver(names) ?? Promise.resolve(new Map()),
    sightings,
    pointsRead,
  ]);
  if (!to.ok) recoveryPoints.clear();
  return {
    now,
    to,
    ...(from === undefined ? {} : { from }),
    recoveryPoints,
    ...(planLock === undefined ? {} : { planLock }),
    locks,
    failedOver,
    sightings: seen,
    apiCalls,
    locksRead: options.locks !== undefined,
  };
}

type Counted = <T>(call: () => Promise<T>) => Promise<T>;

async function readSite(api: HyperVReadApi, site: string, counted: Counted): Promise<SiteRead> {
  let read: SiteRead;
  try {
    const [vms, hosts, networks] = await Promise.all([
      counted(() => api.listVMs(site)),
      counted(() => api.listHosts(site)),
      counted(() => api.listNetworks(site)),
    ]);
    read = { ok: true, site, vms, hosts, networks };
  } catch (error) {
    read = { ok: false, site, error: describeError(error) };
  }
  // Asked after the lists: a copy refreshed by them reports its new age (not counted: no host call).
  const asOf = await api.asOf?.(site).catch(() => undefined);
  return asOf === undefined ? read : { ...read, asOf };
}

async function readPoints(
  api: HyperVReadApi,
  site: string,
  vm: string,
  counted: Counted,
): Promise<PointsRead> {
  try {
    return { ok: true, points: await counted(() => api.getRecoveryPoints(site, vm)) };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

function needsPointList(vm: PlanVm, plan: RecoveryPlan, runtime: RecoveryPointChoice | undefined): boolean {
  // As the engine chooses (a planned failover always takes latest, filtered out above).
  const choice = runtime ?? vm.recoveryPoint ?? plan.recoveryPoint;
  return choice.kind === 'latestAppConsistent' || choice.kind === 'at';
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? error.code : 'ERROR';
    return { code, message: error.message };
  }
  return { code: 'ERROR', message: String(error) };
}
