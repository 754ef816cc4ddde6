import type { HyperVApi, NetworkAttachment, RecoveryPoint, VmView } from './api.ts';
import type { SimControl } from './control.ts';
import { SimError } from './errors.ts';
import { completeFailover, reverseReplication, startFailover, stopFailover } from './failover.ts';
import { applyFault } from './faults.ts';
import { armGuard, disarmGuard, guardStatus, renewGuard } from './guard.ts';
import type { VmInstance } from './model.ts';
import { bootingCount, powerOff, powerOn, startRefusal } from './power.ts';
import { listPoints, publicPoint } from './recovery-points.ts';
import { originOf } from './replication.ts';
import { resumeReplication, resyncReplication, suspendReplication } from './replication-ops.ts';
import { hostView, mainRelationship, measureView, replicationSeqs, vmView } from './views.ts';
import { seqAt, writeCanary } from './workload.ts';
import type { WorldCore } from './world.ts';

interface Mutation {
  site: string;
  vm: string;
  epoch: number;
}

/**
 * The in-process Hyper-V API over a world. Every mutating call is counted (per VM, site and
 * operation) before anything else, refused or not; refusals are counted by code.
 */
export function createInProcessApi(world: WorldCore): HyperVApi & SimControl {
  const ledger = world.ledger;

  function mutate<T>(op: string, req: Mutation, act: (vm: VmInstance) => T): T {
    world.sync();
    ledger.countMutation(String(req.vm), String(req.site), op);
    try {
      if (!Number.isSafeInteger(req.epoch) || req.epoch < 0) {
        throw new SimError(
          'BAD_REQUEST',
          `${op}: epoch must be a non-negative integer, got ${String(req.epoch)}`,
        );
      }
      const vm = world.vm(req.site, req.vm);
      if (req.epoch < vm.epoch) {
        throw new SimError(
          'STALE_EPOCH',
          `${op} on VM '${req.vm}' at site '${req.site}' refused: epoch ${req.epoch} is older than ${vm.epoch}`,
          { site: req.site, vm: req.vm, epoch: req.epoch, current: vm.epoch },
        );
      }
      const result = act(vm);
      if (req.epoch > vm.epoch) vm.epoch = req.epoch;
      return result;
    } catch (error) {
      if (error instanceof SimError) ledger.countRefusal(String(req.vm), String(req.site), error.code);
      throw error;
    }
  }

  function read<T>(fn: () => T): Promise<T> {
    try {
      world.sync();
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function mutation<T>(op: string, req: Mutation, act: (vm: VmInstance) => T): Promise<T> {
    try {
      return Promise.resolve(mutate(op, req, act));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  return {
    now: () => read(() => world.iso(world.now)),
    listSites: () => read(() => [...world.sites.keys()]),
    listHosts: (site) => read(() => [...world.reachableSite(site).hosts.values()].map(hostView)),
    listNetworks: (site) =>
      read(() =>
        [...world.reachableSite(site).networks.values()].map((n) => ({
          site,
          name: n.name,
          isolated: n.isolated,
        })),
      ),
    listVMs: (site) =>
      read(() => {
        const views: VmView[] = [];
        for (const vm of world.reachableSite(site).vms.values())
          if (vm.host.powered) views.push(vmView(world, vm));
        return views;
      }),
    getVM: (site, name) => read(() => vmView(world, world.vm(site, name))),
    getRecoveryPoints: (site, name) =>
      read((): RecoveryPoint[] => {
        const vm = world.vm(site, name);
        const rel = vm.role === 'Replica' || vm.role === 'ExtendedReplica' ? vm.incoming : null;
        if (rel === null || vm.failoverStage === 'FailedOver') return [];
        return listPoints(rel, (ms) => world.iso(ms)).map(publicPoint);
      }),
    measureVMReplication: (site, name) => read(() => measureView(world, world.vm(site, name))),
    waitForHeartbeat: (site, name, timeoutMs) => {
      try {
        world.sync();
        return world.waitForHeartbeat(world.vm(site, name), Math.max(0, timeoutMs));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    probe: (site, name, _probe) =>
      read(() => {
        const vm = world.vm(site, name);
        const ok = vm.heartbeatOk && world.hostUp(vm);
        return ok ? { ok, status: _probe.kind === 'http' ? 200 : undefined } : { ok: false };
      }),

    startVM: (req) =>
      mutation('startVM', req, (vm) => {
        const refusal = startRefusal(vm, req.epoch);
        if (refusal) throw refusal;
        if (bootingCount(vm.host) >= vm.host.maxConcurrentBoots) {
          throw new SimError(
            'HOST_BOOT_LIMIT',
            `host '${vm.host.name}' at site '${vm.site}' is already booting ${vm.host.maxConcurrentBoots} VMs; retry Start-VM for '${vm.name}' later`,
            { site: vm.site, vm: vm.name, host: vm.host.name },
          );
        }
        if (vm.fencedEpoch !== null) vm.fencedEpoch = null;
        powerOn(world, vm);
        return vmView(world, vm);
      }),
    stopVM: (req) =>
      mutation(req.turnOff ? 'stopVM.turnOff' : 'stopVM', req, (vm) => {
        if (vm.state === 'Off') {
          throw new SimError('INVALID_STATE', `VM '${vm.name}' at site '${vm.site}' is already Off`, {
            site: vm.site,
            vm: vm.name,
          });
        }
        powerOff(world, vm);
        return vmView(world, vm);
      }),
    startVMFailover: (req) =>
      mutation(`startVMFailover.${req.mode}`, req, (vm) => startFailover(world, vm, req)),
    stopVMFailover: (req) =>
      mutation(req.test ? 'stopVMFailover.test' : 'stopVMFailover', req, (vm) =>
        stopFailover(world, vm, req.test === true),
      ),
    completeVMFailover: (req) => mutation('completeVMFailover', req, (vm) => completeFailover(world, vm)),
    reverseVMReplication: (req) =>
      mutation('reverseVMReplication', req, (vm) => reverseReplication(world, vm)),
    resyncVMReplication: (req) => mutation('resyncVMReplication', req, (vm) => resyncReplication(world, vm)),
    suspendVMReplication: (req) =>
      mutation('suspendVMReplication', req, (vm) => suspendReplication(world, vm)),
    resumeVMReplication: (req) => mutation('resumeVMReplication', req, (vm) => resumeReplication(world, vm)),
    connectVMNetwork: (req) =>
      mutation('connectVMNetwork', req, (vm) => {
        const attachment: NetworkAttachment = {
          network: req.network,
          ...(req.ip === undefined ? {} : { ip: req.ip }),
        };
        if (!world.site(vm.site).networks.has(req.network)) {
          throw new SimError(
            'NETWORK_NOT_FOUND',
            `site '${vm.site}' has no network '${req.network}' for VM '${vm.name}'`,
            {
              site: vm.site,
              vm: vm.name,
              network: req.network,
            },
          );
        }
        vm.network = attachment;
        return vmView(world, vm);
      }),
    fenceVM: (req) =>
      mutation('fenceVM', req, (vm) => {
        powerOff(world, vm);
        vm.fencedEpoch = Math.max(vm.fencedEpoch ?? 0, req.epoch);
        return vmView(world, vm);
      }),
    setVMAutomaticStartAction: (req) =>
      mutation('setVMAutomaticStartAction', req, (vm) => {
        if (vm.isTest) {
          throw new SimError(
            'INVALID_STATE',
            `VM '${vm.name}' at site '${vm.site}' is a test VM; its automatic start action stays Nothing`,
            { site: vm.site, vm: vm.name },
          );
        }
        vm.automaticStartAction = req.action;
        return vmView(world, vm);
      }),

    armGuard: (req) => read(() => armGuard(world, req)),
    renewGuard: (req) => read(() => renewGuard(world, req)),
    disarmGuard: (req) => read(() => disarmGuard(world, req)),
    guardStatus: (site, host) => read(() => guardStatus(world, site, host)),

    truth: () => read(() => world.truth()),
    fault: (action) => read(() => applyFault(world, action)),
    advance: (ms) =>
      read(() => {
        if (!(ms >= 0)) throw new SimError('BAD_REQUEST', `cannot advance simulated time by ${ms} ms`);
        world.advance(ms);
        return world.iso(world.now);
      }),
    writeCanary: (site, name, payload) =>
      read(() => {
        const vm = world.vm(site, name);
        if (!vm.heartbeatOk) {
          throw new SimError(
            'INVALID_STATE',
            `VM '${name}' at site '${site}' is not running a guest; no write acknowledged`,
            {
              site,
              vm: name,
            },
          );
        }
        return writeCanary(vm.disk, world.now, payload);
      }),
    readCanary: (site, name, seq) =>
      read(() => {
        const vm = world.vm(site, name);
        const rel = mainRelationship(vm);
        // A replica still replicating holds what it received; any other VM holds its own disk.
        const held =
          (vm.role === 'Replica' || vm.role === 'ExtendedReplica') && vm.failoverStage === null && rel
            ? rel.receivedSeq
            : seqAt(vm.disk, world.now);
        if (seq > held) return null;
        const replicating =
          (vm.role === 'Replica' || vm.role === 'ExtendedReplica') && vm.failoverStage === null;
        const disk = replicating && rel ? originOf(rel).disk : vm.disk;
        return disk.payloads?.get(seq) ?? null;
      }),
    replicationSeqs: (site, name) => read(() => replicationSeqs(world, world.vm(site, name))),
  };
}
