import { SimError } from './errors.ts';
import { crashHost, restoreHost } from './power.ts';
import { Rng } from './rng.ts';
import type { FaultAction, FaultSpec, RandomFaultSpec } from './spec.ts';
import type { WorldCore } from './world.ts';

/** Faults on demand (`applyFault`), on a schedule, or drawn under a seed (`randomFaults`). */

export function describeFault(action: FaultAction): string {
  switch (action.kind) {
    case 'host-crash':
    case 'host-up':
      return `${action.kind} ${action.site}/${action.host}`;
    case 'site-power':
      return `site-power ${action.site} ${action.state}`;
    case 'link':
      return `link ${action.from}<->${action.to} ${action.state}`;
    case 'boot':
      return `boot ${action.site ? `${action.site}/` : ''}${action.vm} ${action.mode}${action.factor ? ` x${action.factor}` : ''}`;
    case 'throttle':
      return `throttle ${action.from}<->${action.to} ${action.bandwidthBytesPerSec} B/s`;
  }
}

export function applyFault(world: WorldCore, action: FaultAction): void {
  switch (action.kind) {
    case 'host-crash':
    case 'host-up': {
      const site = world.site(action.site);
      const host = site.hosts.get(action.host);
      if (!host)
        throw new SimError('BAD_REQUEST', `site '${action.site}' has no host '${action.host}'`, {
          site: action.site,
        });
      if (action.kind === 'host-crash') crashHost(world, host);
      else restoreHost(world, host);
      break;
    }
    case 'site-power': {
      const site = world.site(action.site);
      if (action.state === 'off') {
        for (const host of site.hosts.values()) crashHost(world, host);
        site.powered = false;
      } else {
        site.powered = true;
        for (const host of site.hosts.values()) restoreHost(world, host);
      }
      break;
    }
    case 'link':
    case 'throttle': {
      world.site(action.from);
      world.site(action.to);
      const link = world.linkBetween(action.from, action.to);
      if (!link)
        throw new SimError('BAD_REQUEST', `there is no link between '${action.from}' and '${action.to}'`);
      if (action.kind === 'link') link.up = action.state === 'up';
      else {
        if (!(action.bandwidthBytesPerSec > 0))
          throw new SimError('BAD_REQUEST', 'throttle bandwidth must be > 0');
        link.bandwidthBytesPerSec = action.bandwidthBytesPerSec;
      }
      break;
    }
    case 'boot': {
      const list = world.instances.get(action.vm);
      if (!list) throw new SimError('VM_NOT_FOUND', `no VM '${action.vm}' in this world`, { vm: action.vm });
      for (const vm of list) {
        if (action.site !== undefined && vm.site !== action.site) continue;
        vm.bootMode = { mode: action.mode, factor: action.factor ?? 5 };
        if (vm.testVm) vm.testVm.bootMode = { ...vm.bootMode };
      }
      break;
    }
  }
  world.ledger.recordFault(world.now, describeFault(action));
}

export function scheduleFaults(world: WorldCore, faults: FaultSpec[]): void {
  for (const fault of faults) {
    const { atMs, ...action } = fault;
    world.schedule(atMs, () => applyFault(world, action as FaultAction));
  }
}

/** Draw host crashes (with returns) and link cuts (with repairs) as Poisson processes under a seed. */
export function randomFaults(world: WorldCore, spec: RandomFaultSpec): FaultSpec[] {
  const rng = new Rng(spec.seed ?? 7);
  const horizon = spec.horizonMs ?? 86_400_000;
  const out: FaultSpec[] = [];
  const hosts = world.hosts();
  if ((spec.hostCrashesPerDay ?? 0) > 0 && hosts.length > 0) {
    const mean = 86_400_000 / (spec.hostCrashesPerDay ?? 1);
    for (let t = rng.exponential(mean); t < horizon; t += rng.exponential(mean)) {
      const host = hosts[rng.int(0, hosts.length - 1)]!;
      const down = Math.max(1000, Math.round(rng.exponential(spec.hostDowntimeMs ?? 600_000)));
      out.push({ atMs: Math.round(t), kind: 'host-crash', site: host.site, host: host.name });
      out.push({ atMs: Math.round(t) + down, kind: 'host-up', site: host.site, host: host.name });
    }
  }
  const links = [...world.links.values()];
  if ((spec.linkCutsPerDay ?? 0) > 0 && links.length > 0) {
    const mean = 86_400_000 / (spec.linkCutsPerDay ?? 1);
    for (let t = rng.exponential(mean); t < horizon; t += rng.exponential(mean)) {
      const link = links[rng.int(0, links.length - 1)]!;
      const outage = Math.max(1000, Math.round(rng.exponential(spec.linkOutageMs ?? 1_800_000)));
      out.push({ atMs: Math.round(t), kind: 'link', from: link.a, to: link.b, state: 'down' });
      out.push({ atMs: Math.round(t) + outage, kind: 'link', from: link.a, to: link.b, state: 'up' });
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}
