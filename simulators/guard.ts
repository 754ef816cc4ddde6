import type { GuardView } from './api.ts';
import { SimError } from './errors.ts';
import { runsAsPrimary } from './ledger.ts';
import type { Host, HostGuard } from './model.ts';
import { powerOff } from './power.ts';
import type { WorldCore } from './world.ts';

/**
 * The host guard (issue 13), as sbd's watchdog: armed with VMs and a timeout, it must be renewed
 * before its deadline on the world's clock; when it is not, the host turns off (hard, as Stop-VM
 * -TurnOff) every armed VM that runs there as a primary, and the ledger records the firing. It
 * fires whatever the engine believes: the simulator judges, nobody reports to it.
 */

const MAX_TIMEOUT_MS = 86_400_000;

function hostOf(world: WorldCore, siteName: string, name: string): Host {
  const host = world.reachableSite(siteName).hosts.get(name);
  if (host === undefined)
    throw new SimError('BAD_REQUEST', `site '${siteName}' has no host '${name}'`, {
      site: siteName,
      host: name,
    });
  if (!host.powered)
    throw new SimError('HOST_DOWN', `host '${name}' at site '${siteName}' is down`, {
      site: siteName,
      host: name,
    });
  return host;
}

export function guardView(world: WorldCore, host: Host): GuardView {
  const g = host.guard;
  const armed = g !== undefined && g.deadline !== null;
  return {
    site: host.site,
    host: host.name,
    armed,
    vms: g === undefined ? [] : [...g.vms],
    timeoutMs: g?.timeoutMs ?? 0,
    ...(armed && g.deadline !== null ? { deadline: world.iso(g.deadline) } : {}),
    ...(g?.lastRenewal == null ? {} : { lastRenewal: world.iso(g.lastRenewal) }),
    ...(g?.fired == null ? {} : { fired: { at: world.iso(g.fired.at), vms: [...g.fired.vms] } }),
    now: world.iso(world.now),
  };
}

function schedule(world: WorldCore, host: Host, guard: HostGuard): void {
  const generation = guard.generation;
  const deadline = guard.deadline;
  if (deadline === null) return;
  world.schedule(deadline, (at) => {
    if (host.guard !== guard || guard.generation !== generation || guard.deadline !== deadline) return;
    fire(world, host, guard, at);
  });
}

function fire(world: WorldCore, host: Host, guard: HostGuard, at: number): void {
  const off: string[] = [];
  if (host.powered && host.siteRef.powered) {
    for (const vm of host.vms) {
      if (guard.vms.includes(vm.name) && runsAsPrimary(vm)) {
        powerOff(world, vm);
        off.push(vm.name);
      }
    }
  }
  off.sort();
  guard.deadline = null;
  guard.fired = { at, vms: off };
  guard.generation++;
  world.ledger.recordGuardFiring({
    site: host.site,
    host: host.name,
    at,
    armedVms: [...guard.vms],
    vms: off,
  });
}

export function armGuard(
  world: WorldCore,
  req: { site: string; host: string; vms: string[]; timeoutMs: number },
): GuardView {
  const host = hostOf(world, req.site, req.host);
  if (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0 || req.timeoutMs > MAX_TIMEOUT_MS)
    throw new SimError(
      'BAD_REQUEST',
      `armGuard: timeoutMs must be in (0, ${MAX_TIMEOUT_MS}], got ${String(req.timeoutMs)}`,
      { site: req.site, host: req.host },
    );
  for (const name of req.vms) {
    const vm = world.site(req.site).vms.get(name);
    if (vm === undefined || vm.host !== host || vm.isTest)
      throw new SimError(
        'VM_NOT_FOUND',
        `armGuard: no VM '${name}' on host '${req.host}' at site '${req.site}'`,
        {
          site: req.site,
          vm: name,
          host: req.host,
        },
      );
  }
  const previous = host.guard;
  const guard: HostGuard = {
    vms: [...new Set(req.vms)].sort(),
    timeoutMs: req.timeoutMs,
    deadline: world.now + req.timeoutMs,
    lastRenewal: world.now,
    fired: null,
    generation: (previous?.generation ?? 0) + 1,
  };
  host.guard = guard;
  schedule(world, host, guard);
  return guardView(world, host);
}

export function renewGuard(world: WorldCore, req: { site: string; host: string }): GuardView {
  const host = hostOf(world, req.site, req.host);
  const guard = host.guard;
  if (guard === undefined || guard.deadline === null) {
    const why =
      guard?.fired != null
        ? `fired at ${world.iso(guard.fired.at)} (turned off: ${guard.fired.vms.join(', ') || 'nothing running'}); arm it again`
        : 'is not armed';
    throw new SimError('INVALID_STATE', `the guard of host '${req.host}' at site '${req.site}' ${why}`, {
      site: req.site,
      host: req.host,
    });
  }
  guard.generation++;
  guard.lastRenewal = world.now;
  guard.deadline = world.now + guard.timeoutMs;
  schedule(world, host, guard);
  return guardView(world, host);
}

export function disarmGuard(world: WorldCore, req: { site: string; host: string }): GuardView {
  const host = hostOf(world, req.site, req.host);
  const guard = host.guard;
  if (guard !== undefined) {
    guard.generation++;
    guard.deadline = null;
    guard.vms = [];
  }
  return guardView(world, host);
}

export function guardStatus(world: WorldCore, site: string, name: string): GuardView {
  return guardView(world, hostOf(world, site, name));
}
