import type { EvalContext } from '../context.ts';
import type { HostCapacity, ResourceUse, SiteCapacity } from '../types.ts';

/**
 * Capacity at the site the VMs fail over to. A replica (or its test copy) boots on the host that
 * holds it, so each host must fit its own VMs; and the site as a whole must keep headroom after
 * the failover.
 *
 * Needed: one slot and the VM's memory for each selected VM that does not already run there
 * (a VM that is Off uses no host memory). Used and total come from Get-VMHost of powered hosts.
 *
 * Rule: the site is blocked when (used + needed) / total would exceed `maxUtilization`, for slots
 * or memory; it is warned about above `warnUtilization`. The defaults (block above 100 %, warn
 * above 80 %) never refuse a failover whose VMs fit: in a real disaster a crowded target beats a
 * refused failover. A site that must keep headroom (room for memory growth and a host failure)
 * sets `maxUtilization: 0.8`: then exactly 80 % passes and one VM more is blocked. A single host
 * is blocked only when its VMs do not fit at all (> 100 %): the replica cannot boot elsewhere.
 */
export function checkCapacity(ctx: EvalContext): SiteCapacity | undefined {
  const to = ctx.to;
  if (to === undefined) return undefined;
  const test = ctx.settings.type === 'test';
  const needSlots = new Map<string, number>();
  const needMemory = new Map<string, number>();
  const vmsOnHost = new Map<string, string[]>();
  for (const vm of ctx.selected) {
    if (ctx.excluded.has(vm.name)) continue;
    const view = to.vms.get(vm.name);
    if (view === undefined) continue;
    const running = test ? to.testVms.get(vm.name)?.state === 'Running' : view.state === 'Running';
    if (running) continue;
    needSlots.set(view.host, (needSlots.get(view.host) ?? 0) + 1);
    needMemory.set(view.host, (needMemory.get(view.host) ?? 0) + view.memoryMb);
    const list = vmsOnHost.get(view.host) ?? [];
    list.push(vm.name);
    vmsOnHost.set(view.host, list);
  }

  const hosts: HostCapacity[] = [];
  const slots: ResourceUse = { total: 0, used: 0, needed: 0 };
  const memoryMb: ResourceUse = { total: 0, used: 0, needed: 0 };
  for (const host of to.hosts.values()) {
    const h: HostCapacity = {
      host: host.name,
      powered: host.powered,
      slots: { total: host.vmSlots, used: host.usedSlots, needed: needSlots.get(host.name) ?? 0 },
      memoryMb: { total: host.memoryMb, used: host.usedMemoryMb, needed: needMemory.get(host.name) ?? 0 },
    };
    hosts.push(h);
    if (!host.powered) continue; // its VMs are HOST_DOWN blockers already
    add(slots, h.slots);
    add(memoryMb, h.memoryMb);
    if (overflows(h.slots, 1) || overflows(h.memoryMb, 1)) {
      const names = vmsOnHost.get(host.name) ?? [];
      ctx.block('INSUFFICIENT_CAPACITY', {
        site: ctx.toSite,
        host: host.name,
        path: ctx.toSitePath,
        message: `host '${host.name}' cannot start its ${names.length} replica(s): ${figures(h.slots, h.memoryMb)} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`,
        hint: `free capacity on '${host.name}', or move replicas to other hosts (Move-VM), or fail over fewer VMs (--vms / --group)`,
        details: details(h.slots, h.memoryMb, 1),
      });
    }
  }

  const max = ctx.settings.maxUtilization;
  const warnAt = Math.min(ctx.settings.warnUtilization, max);
  const utilizationAfter = Math.max(ratio(slots), ratio(memoryMb));
  if (overflows(slots, max) || overflows(memoryMb, max)) {
    ctx.block('INSUFFICIENT_CAPACITY', {
      site: ctx.toSite,
      path: ctx.toSitePath,
      message: `site '${ctx.toSite}' would be ${percent(utilizationAfter)} used after the failover, above the ${percent(max)} limit: ${figures(slots, memoryMb, max)}`,
      hint: 'add hosts or memory at the target, stop non-essential VMs there, or fail over part of the plan (--vms / --group)',
      details: details(slots, memoryMb, max),
    });
  } else if (warnAt < max && (overflows(slots, warnAt) || overflows(memoryMb, warnAt))) {
    ctx.warn('CAPACITY_HIGH', {
      site: ctx.toSite,
      path: ctx.toSitePath,
      message: `site '${ctx.toSite}' would be ${percent(utilizationAfter)} used after the failover (above ${percent(warnAt)}): ${figures(slots, memoryMb)}`,
      hint: 'little headroom is left for memory growth or a host failure at the target',
      details: details(slots, memoryMb, 1),
    });
  }
  return { site: ctx.toSite, slots, memoryMb, utilizationAfter, maxUtilization: max, hosts };
}
function add(sum: ResourceUse, part: ResourceUse): void {
  sum.total += part.total;
  sum.used += part.used;
  sum.needed += part.needed;
}

/** The most a resource may hold at `max` utilization; integer, so exactly 80 % of 100 is 80. */
function limit(use: ResourceUse, max: number): number {
  return Math.floor(use.total * max + 1e-9);
}

function overflows(use: ResourceUse, max: number): boolean {
  return use.needed > 0 && use.used + use.needed > limit(use, max);
}

function ratio(use: ResourceUse): number {
  return use.total === 0
    ? use.used + use.needed > 0
      ? Number.POSITIVE_INFINITY
      : 0
    : (use.used + use.needed) / use.total;
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 1000) / 10} %` : 'over capacity (no powered host)';
}

function figures(slots: ResourceUse, memoryMb: ResourceUse, max = 1): string {
  const free = (u: ResourceUse) => Math.max(0, limit(u, max) - u.used);
  return (
    `needs ${slots.needed} slot(s), ${free(slots)} free of ${slots.total}; ` +
    `needs ${memoryMb.needed} MB memory, ${free(memoryMb)} MB free of ${memoryMb.total} MB`
  );
}

function details(slots: ResourceUse, memoryMb: ResourceUse, max: number): Record<string, number> {
  return {
    neededSlots: slots.needed,
    freeSlots: Math.max(0, limit(slots, max) - slots.used),
    totalSlots: slots.total,
    neededMemoryMb: memoryMb.needed,
    freeMemoryMb: Math.max(0, limit(memoryMb, max) - memoryMb.used),
    totalMemoryMb: memoryMb.total,
    maxUtilization: max,
  };
}
