import { SimError } from './errors.ts';
import type { Host, VmInstance } from './model.ts';
import { startWriting, stopWriting } from './workload.ts';
import type { WorldCore } from './world.ts';

/**
 * Power: Start-VM (Starting until the guest heartbeat appears after the boot time), Stop-VM,
 * host crashes and returns with Hyper-V's automatic start action.
 */

export function bootingCount(host: Host): number {
  return host.booting;
}

function usage(host: Host): { slots: number; memoryMb: number } {
  return { slots: host.usedSlots, memoryMb: host.usedMemoryMb };
}

export function hostUsage(host: Host): { slots: number; memoryMb: number } {
  return usage(host);
}

/** Every power-state change goes through here, so the host's counters stay exact. */
function setState(vm: VmInstance, next: VmInstance['state']): void {
  const host = vm.host;
  const prev = vm.state;
  if (prev === next) return;
  if (prev === 'Off') {
    host.usedSlots++;
    host.usedMemoryMb += vm.memoryMb;
  }
  if (next === 'Off') {
    host.usedSlots--;
    host.usedMemoryMb -= vm.memoryMb;
  }
  if (prev === 'Starting') host.booting--;
  if (next === 'Starting') host.booting++;
  vm.state = next;
}

/** A VM that is Running from the world's first moment (no boot). */
export function initiallyRunning(world: WorldCore, vm: VmInstance): void {
  setState(vm, 'Running');
  vm.poweredOnAt = world.now;
  vm.heartbeatOk = true;
  startWriting(vm.disk, world.now);
  world.ledger.onPowerChange(vm.vm, world.now);
}

/** Why `vm` may not start now, as the error Start-VM would give, or null. Boot limit excluded. */
export function startRefusal(vm: VmInstance, epoch: number | null): SimError | null {
  const where = `VM '${vm.name}' at site '${vm.site}'`;
  const details = { site: vm.site, vm: vm.name };
  if (vm.state !== 'Off') return new SimError('INVALID_STATE', `${where} is ${vm.state}, not Off`, details);
  if (vm.role === 'Replica' || vm.role === 'ExtendedReplica') {
    if (vm.failoverStage === null) {
      return new SimError(
        'INVALID_STATE',
        `${where} is a replica that has not been failed over; run Start-VMFailover on it first`,
        details,
      );
    }
  }
  if (vm.prepared) {
    return new SimError(
      'START_BARRED',
      `${where} is prepared for planned failover and cannot start; cancel with Stop-VMFailover or reverse replication`,
      details,
    );
  }
  if (vm.fencedEpoch !== null && (epoch === null || epoch <= vm.fencedEpoch)) {
    return new SimError('START_BARRED', `${where} is fenced under epoch ${vm.fencedEpoch}`, {
      ...details,
      fencedEpoch: vm.fencedEpoch,
    });
  }
  const used = usage(vm.host);
  if (used.slots + 1 > vm.host.vmSlots || used.memoryMb + vm.memoryMb > vm.host.memoryMb) {
    return new SimError(
      'INSUFFICIENT_CAPACITY',
      `host '${vm.host.name}' at site '${vm.site}' has no room for ${where} (${used.slots}/${vm.host.vmSlots} slots, ${used.memoryMb}/${vm.host.memoryMb} MB used, needs ${vm.memoryMb} MB)`,
      details,
    );
  }
  return null;
}

export function drawBootMs(world: WorldCore, vm: VmInstance): number {
  const { minMs, maxMs } = vm.boot;
  const base = maxMs > minMs ? minMs + Math.floor(world.bootRng.next() * (maxMs - minMs + 1)) : minMs;
  const factor = vm.bootMode.mode === 'slow' ? vm.bootMode.factor : 1;
  return Math.round(base * factor) + vm.pendingApplyMs;
}

/** Power on: Starting now, guest heartbeat after the drawn boot time (never on a failing boot). */
export function powerOn(world: WorldCore, vm: VmInstance): void {
  setState(vm, 'Starting');
  vm.poweredOnAt = world.now;
  vm.heartbeatOk = false;
  vm.bootToken++;
  const token = vm.bootToken;
  const bootMs = drawBootMs(world, vm);
  vm.pendingApplyMs = 0;
  world.schedule(world.now + bootMs, (t) => {
    if (vm.bootToken !== token || vm.state !== 'Starting') return;
    setState(vm, 'Running');
    if (vm.bootMode.mode === 'fail') return;
    vm.heartbeatOk = true;
    startWriting(vm.disk, t);
    world.notifyHeartbeat(vm, t);
  });
  if (!vm.isTest) world.ledger.onPowerChange(vm.vm, world.now);
}

export function powerOff(world: WorldCore, vm: VmInstance): void {
  if (vm.state === 'Off') return;
  stopWriting(vm.disk, world.now);
  setState(vm, 'Off');
  vm.poweredOnAt = null;
  vm.heartbeatOk = false;
  vm.bootToken++;
  if (!vm.isTest) world.ledger.onPowerChange(vm.vm, world.now);
}

export function crashHost(world: WorldCore, host: Host): void {
  if (!host.powered) return;
  for (const vm of host.vms) {
    vm.wasRunningAtCrash = vm.state !== 'Off';
    powerOff(world, vm);
  }
  host.powered = false;
}

/** The host comes back; each VM's automatic start action applies, unless it is barred or fenced. */
export function restoreHost(world: WorldCore, host: Host): void {
  if (host.powered || !(world.sites.get(host.site)?.powered ?? false)) return;
  host.powered = true;
  for (const vm of [...host.vms]) {
    const wanted =
      vm.automaticStartAction === 'Start' ||
      (vm.automaticStartAction === 'StartIfRunning' && vm.wasRunningAtCrash);
    vm.wasRunningAtCrash = false;
    if (!wanted) continue;
    if (startRefusal(vm, null) !== null) continue;
    powerOn(world, vm);
    world.ledger.countAutoStart(vm.vm);
  }
}
