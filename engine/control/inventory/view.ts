/**
 * GET /api/v1/inventory: what the vault knows of each site's VMs, for people and the dashboard.
 * RPO is the hosts' now (estimated from the site's newest report) minus the last replication.
 */
import { z } from 'zod';
import { decodePoints, decodeVm } from './codec.ts';
import type { InventoryStore, SiteMeta } from './store.ts';

export const InventoryQuerySchema = z.strictObject({
  site: z.string().max(128).optional(),
  vm: z.string().max(128).optional(),
  /** @defaultValue 1000 */
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
  /** The VM name after which the list goes on (the previous page's `next`). */
  after: z.string().max(128).optional(),
});
export type InventoryQuery = z.infer<typeof InventoryQuerySchema>;

const SiteViewSchema = z.object({
  site: z.string(),
  complete: z.boolean().describe('a full inventory was received'),
  asOf: z.string().optional().describe("hosts' time of the newest report"),
  receivedAt: z.string().optional().describe("control plane's time it arrived"),
  ageMs: z.number().optional().describe('how long ago it arrived (control plane clock)'),
  vms: z.number().int(),
  hosts: z.number().int(),
  refreshAsked: z.boolean(),
});

const VmRowSchema = z.object({
  site: z.string(),
  name: z.string(),
  host: z.string(),
  isTest: z.boolean(),
  state: z.string(),
  heartbeat: z.string(),
  replication: z
    .object({
      mode: z.string(),
      state: z.string(),
      health: z.string(),
      primarySite: z.string(),
      replicaSite: z.string(),
      frequencySec: z.number(),
      lastReplicationTime: z.string().optional(),
      rpoMs: z.number().nullable().describe('now - last replication (hosts clock); null before the first'),
    })
    .nullable(),
  recoveryPoints: z.object({ count: z.number().int(), newest: z.string().optional() }),
});

export const InventoryViewSchema = z
  .object({
    sites: z.array(SiteViewSchema),
    vms: z.array(VmRowSchema),
    /** Pass as `after` for the next page; absent on the last. */
    next: z.string().optional(),
  })
  .meta({ id: 'InventoryView' });
export type InventoryView = z.infer<typeof InventoryViewSchema>;

export async function inventoryView(
  store: InventoryStore,
  query: InventoryQuery,
  clock: () => number,
): Promise<InventoryView> {
  const sites = query.site === undefined ? await store.sites() : [query.site];
  const view: InventoryView = { sites: [], vms: [] };
  let left = query.limit;
  for (const site of sites) {
    const records =
      query.vm === undefined
        ? await store.readSite(site, { points: true })
        : await readOne(store, site, query.vm);
    const { meta } = records;
    view.sites.push(siteRow(meta, Object.keys(records.vms).length, clock));
    const hostNow =
      meta.asOfMs !== undefined && meta.receivedAtMs !== undefined
        ? meta.asOfMs + Math.max(0, clock() - meta.receivedAtMs)
        : clock();
    const names = Object.keys(records.vms)
      .filter((name) => query.after === undefined || name > query.after)
      .sort();
    for (const name of names) {
      if (left === 0) {
        view.next = view.vms.at(-1)?.name;
        break;
      }
      left--;
      const text = records.vms[name] ?? '';
      const vm = decodeVm(site, name, text, hostNow);
      const points = decodePoints(text, records.points[name] ?? null);
      const r = vm.replication;
      const last = r?.lastReplicationTime === undefined ? undefined : Date.parse(r.lastReplicationTime);
      view.vms.push({
        site,
        name,
        host: vm.host,
        isTest: vm.isTest,
        state: vm.state,
        heartbeat: vm.heartbeat,
        replication:
          r === null
            ? null
            : {
                mode: r.mode,
                state: r.state,
                health: r.health,
                primarySite: r.primarySite,
                replicaSite: r.replicaSite,
                frequencySec: r.frequencySec,
                ...(r.lastReplicationTime === undefined
                  ? {}
                  : { lastReplicationTime: r.lastReplicationTime }),
                rpoMs: last === undefined ? null : Math.max(0, hostNow - last),
              },
        recoveryPoints: {
          count: points.length,
          ...(points[0] === undefined ? {} : { newest: points[0].time }),
        },
      });
    }
  }
  return view;
}

async function readOne(store: InventoryStore, site: string, vm: string) {
  const [meta, one] = await Promise.all([store.meta(site), store.readVm(site, vm)]);
  return {
    meta,
    vms: one.vm === null ? {} : { [vm]: one.vm },
    points: one.points === null ? {} : { [vm]: one.points },
  };
}

function siteRow(meta: SiteMeta, vms: number, clock: () => number): InventoryView['sites'][number] {
  const hosts = meta.hostsJson === null ? 0 : (JSON.parse(meta.hostsJson) as unknown[]).length;
  return {
    site: meta.site,
    complete: meta.complete,
    ...(meta.asOfMs === undefined ? {} : { asOf: new Date(meta.asOfMs).toISOString() }),
    ...(meta.receivedAtMs === undefined
      ? {}
      : {
          receivedAt: new Date(meta.receivedAtMs).toISOString(),
          ageMs: Math.max(0, clock() - meta.receivedAtMs),
        }),
    vms,
    hosts,
    refreshAsked: meta.refreshAskedAtMs !== undefined,
  };
}
