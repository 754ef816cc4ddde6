/**
 * Pre-flight's read-only host API (HyperVReadApi) over the vault: what the agents last reported,
 * never a host. Before it answers for a site whose inventory is older than a replication cycle it
 * asks the site's agent for a refresh and waits a bounded time; a site whose agent does not answer
 * in time is read as unreachable (SITE_UNREACHABLE, as a site the simulator cannot reach), with the
 * age of what the vault knows of it, so pre-flight reports it as TARGET_/SOURCE_UNREACHABLE.
 */
import { DrError, formatApproxDuration } from '../../common/index.ts';
import type { HostView, NetworkView, RecoveryPoint, VmView } from '../../hosts/index.ts';
import type { HyperVReadApi, SiteDataAge } from '../../preflight/index.ts';
import { decodeHosts, decodeNetworks, decodePoints, decodeVm } from './codec.ts';
import type { InventoryStore, SiteMeta } from './store.ts';

export interface VaultReadApiOptions {
  store: InventoryStore;
  /**
   * Inventory older than this (control plane's clock) is refreshed through the agent first.
   * @defaultValue 30_000 (the shortest Hyper-V Replica cycle)
   */
  cycleMs?: number;
  /** How long a read waits for the agent's answer to a refresh. @defaultValue 5_000 */
  refreshWaitMs?: number;
  /** How often the wait looks for the answer. @defaultValue 50 */
  pollMs?: number;
  /**
   * How long one site's snapshot is reused by the reads of one pre-flight (its VMs, hosts,
   * networks and points come from one read of the vault).
   * @defaultValue 1_000
   */
  snapshotMs?: number;
  /** Control plane's clock, ms. @defaultValue Date.now */
  clock?: () => number;
}

/** The vault's view of the sites, as pre-flight reads it, and how old each site's data is. */
export interface VaultReadApi extends HyperVReadApi {
  asOf(site: string): Promise<SiteDataAge | undefined>;
}

interface Snapshot {
  meta: SiteMeta;
  vms: Map<string, string>;
  readAtMs: number;
}

export function createVaultReadApi(options: VaultReadApiOptions): VaultReadApi {
  const { store } = options;
  const cycleMs = options.cycleMs ?? 30_000;
  const waitMs = options.refreshWaitMs ?? 5_000;
  const pollMs = options.pollMs ?? 50;
  const snapshotMs = options.snapshotMs ?? 1_000;
  const clock = options.clock ?? Date.now;
  const snapshots = new Map<string, Promise<Snapshot>>();
  /** Newest site data seen: the hosts' clock estimated from it (see now()). */
  let newest: { asOfMs: number; receivedAtMs: number } | undefined;

  const ageOf = (meta: SiteMeta): number | undefined =>
    meta.receivedAtMs === undefined ? undefined : Math.max(0, clock() - meta.receivedAtMs);

  /** Fresh enough, or refreshed through the agent, or the agent did not answer: DrError. */
  async function freshMeta(site: string): Promise<SiteMeta> {
    let meta = await store.meta(site);
    const age = ageOf(meta);
    if (meta.complete && age !== undefined && age <= cycleMs) return meta;
    const askedAt = clock();
    await store.requestRefresh(site, askedAt, Math.max(cycleMs, waitMs));
    // The wait is real time whatever `clock` says (a test's clock may stand still).
    const deadline = performance.now() + waitMs;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      meta = await store.meta(site);
      if (meta.complete && (meta.receivedAtMs ?? 0) >= askedAt) return meta;
    }
    throw notAnswering(site, meta, waitMs, ageOf(meta));
  }

  function snapshot(site: string): Promise<Snapshot> {
    const cached = snapshots.get(site);
    if (cached !== undefined) return cached;
    const loading = (async () => {
      await freshMeta(site);
      const records = await store.readSite(site);
      return { meta: records.meta, vms: new Map(Object.entries(records.vms)), readAtMs: clock() };
    })();
    snapshots.set(site, loading);
    // Reused by the reads of one pre-flight, dropped soon after (and at once when it failed).
    loading.then(
      () => setTimeout(() => snapshots.delete(site), snapshotMs).unref(),
      () => snapshots.delete(site),
    );
    return loading;
  }

  /** The hosts' clock now, as the vault can tell it: the newest report's time plus the time since. */
  const hostNow = (meta?: SiteMeta): number => {
    const basis =
      meta?.asOfMs !== undefined && meta.receivedAtMs !== undefined
        ? { asOfMs: meta.asOfMs, receivedAtMs: meta.receivedAtMs }
        : newest;
    if (basis === undefined) return clock();
    return basis.asOfMs + Math.max(0, clock() - basis.receivedAtMs);
  };
  const remember = (meta: SiteMeta): void => {
    if (meta.asOfMs === undefined || meta.receivedAtMs === undefined) return;
    if (newest === undefined || meta.receivedAtMs >= newest.receivedAtMs)
      newest = { asOfMs: meta.asOfMs, receivedAtMs: meta.receivedAtMs };
  };

  return {
    async now(): Promise<string> {
      // Pre-flight asks the time alongside the site reads: let those refresh the basis first.
      await new Promise((resolve) => setImmediate(resolve));
      for (const loading of [...snapshots.values()]) {
        const snap = await loading.catch(() => undefined);
        if (snap !== undefined) remember(snap.meta);
      }
      if (newest === undefined) for (const site of await store.sites()) remember(await store.meta(site));
      return new Date(hostNow()).toISOString();
    },
    async listVMs(site): Promise<VmView[]> {
      const snap = await snapshot(site);
      remember(snap.meta);
      const now = hostNow(snap.meta);
      return [...snap.vms].map(([name, text]) => decodeVm(site, name, text, now));
    },
    async listHosts(site): Promise<HostView[]> {
      return decodeHosts(site, (await snapshot(site)).meta.hostsJson);
    },
    async listNetworks(site): Promise<NetworkView[]> {
      return decodeNetworks(site, (await snapshot(site)).meta.networksJson);
    },
    async getRecoveryPoints(site, vm): Promise<RecoveryPoint[]> {
      const snap = await snapshot(site);
      const record = snap.vms.get(vm);
      if (record === undefined)
        throw new DrError('VM_NOT_FOUND', `no VM '${vm}' in the vault's inventory of site '${site}'`, {
          details: { site, vm },
        });
      return decodePoints(record, (await store.readVm(site, vm)).points);
    },
    async asOf(site): Promise<SiteDataAge | undefined> {
      const meta = await store.meta(site);
      if (meta.asOfMs === undefined || meta.receivedAtMs === undefined) return undefined;
      return {
        site,
        asOf: new Date(meta.asOfMs).toISOString(),
        ageMs: Math.max(0, clock() - meta.receivedAtMs),
        source: 'vault',
      };
    },
  };
}

function notAnswering(site: string, meta: SiteMeta, waitMs: number, ageMs: number | undefined): DrError {
  const known =
    !meta.complete || ageMs === undefined || meta.asOfMs === undefined
      ? 'the vault has no inventory of it'
      : `the vault's inventory of it is ${formatApproxDuration(ageMs)} old (hosts' time ${new Date(meta.asOfMs).toISOString()})`;
  return new DrError(
    'SITE_UNREACHABLE',
    `the agent of site '${site}' did not answer a refresh within ${waitMs < 1000 ? `${waitMs} ms` : formatApproxDuration(waitMs)}; ${known}`,
    {
      retryable: true,
      details: {
        site,
        ...(ageMs === undefined ? {} : { ageMs }),
        ...(meta.asOfMs === undefined ? {} : { asOf: new Date(meta.asOfMs).toISOString() }),
      },
    },
  );
}
