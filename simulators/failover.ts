import type { NetworkAttachment, RecoveryPoint, RecoveryPointSelector, VmView } from './api.ts';
import { SimError } from './errors.ts';
import { newInstance, type VmInstance } from './model.ts';
import { powerOff } from './power.ts';
import { choosePoint, clearPoints, publicPoint } from './recovery-points.ts';
import { beginResync, changeLogBytes, originOf, pathUp, sourceSeq } from './replication.ts';
import type { FailoverKind } from './truth.ts';
import { mainRelationship, vmView } from './views.ts';
import { diskFromPoint, seqAt, writeTime } from './workload.ts';
import type { WorldCore } from './world.ts';

/**
 * The failover family, as strict as Hyper-V: Start-VMFailover (-Prepare on the primary, plain or
 * -AsTest on the replica), Stop-VMFailover, Complete-VMFailover, Set-VMReplication -Reverse,
 * Resume-VMReplication -Resynchronize. An operation that does not fit the VM's state throws.
 */

export function invalid(vm: VmInstance, what: string): SimError {
  return new SimError('INVALID_STATE', `VM '${vm.name}' at site '${vm.site}': ${what}`, {
    site: vm.site,
    vm: vm.name,
  });
}

function isReplica(vm: VmInstance): boolean {
  return vm.role === 'Replica' || vm.role === 'ExtendedReplica';
}

export function startFailover(
  world: WorldCore,
  vm: VmInstance,
  req: {
    mode: 'prepare' | 'failover' | 'test';
    recoveryPoint?: RecoveryPointSelector;
    testNetwork?: NetworkAttachment;
  },
): { vm: VmView; recoveryPoint?: RecoveryPoint } {
  switch (req.mode) {
    case 'prepare':
      return { vm: prepare(world, vm) };
    case 'failover':
    case 'test':
      return failoverOrTest(world, vm, req.mode, req.recoveryPoint ?? { kind: 'latest' }, req.testNetwork);
  }
}

function prepare(world: WorldCore, vm: VmInstance): VmView {
  if (vm.role !== 'Primary') throw invalid(vm, `-Prepare runs on the primary VM; this one is ${vm.role}`);
  if (vm.prepared) throw invalid(vm, 'is already prepared for planned failover');
  if (vm.state !== 'Off') throw invalid(vm, `is ${vm.state}; turn the primary off before a planned failover`);
  const rel = mainRelationship(vm);
  if (rel === null || rel.state === 'Stopped') throw invalid(vm, 'is not replicating');
  if (rel.state !== 'Replicating' && rel.state !== 'Error') {
    throw invalid(vm, `replication is ${rel.state}; it must be Replicating to prepare a planned failover`);
  }
  if (!pathUp(world, rel)) {
    throw new SimError(
      'SITE_UNREACHABLE',
      `VM '${vm.name}': the replica at site '${rel.target.site}' cannot be reached to send pending changes`,
      { site: vm.site, vm: vm.name, replicaSite: rel.target.site },
    );
  }
  // Send every pending write: the replica ends with exactly what the primary acknowledged.
  const now = world.now;
  const pending = changeLogBytes(rel, now);
  if (rel.linkBytes) rel.linkBytes.bytes += pending;
  rel.receivedSeq = sourceSeq(rel, now);
  rel.appliedSeq = rel.receivedSeq;
  rel.receivedAt = now;
  rel.appliedAt = now;
  rel.lastReplicationAt = now;
  rel.state = 'Replicating';
  rel.failingSince = null;
  vm.prepared = true;
  return vmView(world, vm);
}

function failoverOrTest(
  world: WorldCore,
  vm: VmInstance,
  mode: 'failover' | 'test',
  selector: RecoveryPointSelector,
  testNetwork: NetworkAttachment | undefined,
): { vm: VmView; recoveryPoint: RecoveryPoint } {
  if (!isReplica(vm))
    throw invalid(
      vm,
      `Start-VMFailover${mode === 'test' ? ' -AsTest' : ''} runs on a replica VM; this one is ${vm.role}`,
    );
  if (vm.failoverStage === 'FailedOverWaitingCompletion') {
    throw invalid(
      vm,
      'a failover is already waiting for completion; run Complete-VMFailover or Stop-VMFailover',
    );
  }
  if (vm.failoverStage === 'FailedOver') throw invalid(vm, 'has already failed over and been committed');
  const rel = vm.incoming;
  if (rel === null) throw invalid(vm, 'has no replication relationship');
  if (rel.state === 'Resynchronizing')
    throw invalid(vm, 'is resynchronizing; its data is not consistent yet');
  if (vm.testVm !== null) {
    throw invalid(vm, `test VM '${vm.testVm.name}' exists; remove it with Stop-VMFailover -Test first`);
  }
  const chosen = choosePoint(
    rel,
    selector,
    (ms) => world.iso(ms),
    (s) => world.parseIso(s),
  );
  const now = world.now;
  const origin = originOf(rel);
  const lastAckedSeq = seqAt(origin.disk, now);
  const lost = Math.max(0, lastAckedSeq - chosen.point.seq);
  const source = rel.source;
  const kind: FailoverKind = mode === 'test' ? 'test' : source.prepared ? 'planned' : 'unplanned';
  const record = {
    vm: vm.vm,
    kind,
    fromSite: origin.site,
    toSite: vm.site,
    at: world.iso(now),
    atMs: now,
    recoveryPoint: { id: chosen.point.id, seq: chosen.point.seq, time: chosen.point.time },
    lastAckedSeq,
    lostWrites: lost,
    lostSeqRange: lost > 0 ? ([chosen.point.seq + 1, lastAckedSeq] as [number, number]) : null,
    lostTimeRange: lost > 0 ? lostTimes(world, origin, chosen.point.seq + 1, lastAckedSeq) : null,
    writesAfterFailover: 0,
  };
  const applyMs = Math.ceil((chosen.applyBytes * 1000) / world.applyBytesPerSec);

  if (mode === 'test') {
    let network: NetworkAttachment | null = null;
    let isolated = false;
    if (testNetwork) {
      const net = world.site(vm.site).networks.get(testNetwork.network);
      if (!net) {
        throw new SimError(
          'NETWORK_NOT_FOUND',
          `site '${vm.site}' has no network '${testNetwork.network}' for the test VM of '${vm.name}'`,
          {
            site: vm.site,
            vm: vm.name,
            network: testNetwork.network,
          },
        );
      }
      network = { ...testNetwork };
      isolated = net.isolated;
    }
    const test: VmInstance = newInstance({
      ...vm,
      name: `${vm.name} - Test`,
      isTest: true,
      state: 'Off',
      poweredOnAt: null,
      heartbeatOk: false,
      bootToken: 0,
      wasRunningAtCrash: false,
      role: 'TestReplica',
      failoverStage: null,
      prepared: false,
      fencedEpoch: null,
      network,
      automaticStartAction: 'Nothing',
      bootMode: { ...vm.bootMode },
      pendingApplyMs: applyMs,
      disk: diskFromPoint(origin.disk, chosen.point.seq, vm.disk.rate),
      incoming: null,
      outgoing: [],
      testVm: null,
      failoverIndex: null,
      recoveryPoint: { ...chosen.point },
    });
    world.addInstance(test);
    vm.testVm = test;
    world.ledger.addFailover(
      { ...record, testNetwork: { network: network?.network ?? null, isolated } },
      origin,
    );
    return { vm: vmView(world, test), recoveryPoint: publicPoint(chosen.point) };
  }

  if (vm.state !== 'Off') throw invalid(vm, `is ${vm.state}; a replica must be Off to fail over`);
  vm.disk = diskFromPoint(origin.disk, chosen.point.seq, vm.disk.rate);
  vm.pendingApplyMs = applyMs;
  vm.failoverStage = 'FailedOverWaitingCompletion';
  rel.state = 'Stopped';
  vm.failoverIndex = world.ledger.addFailover(record, origin);
  vm.recoveryPoint = { ...chosen.point };
  return { vm: vmView(world, vm), recoveryPoint: publicPoint(chosen.point) };
}

function lostTimes(
  world: WorldCore,
  origin: VmInstance,
  first: number,
  last: number,
): { first?: string; last?: string } {
  const firstAt = writeTime(origin.disk, first);
  const lastAt = writeTime(origin.disk, last);
  return {
    ...(firstAt === undefined ? {} : { first: world.iso(firstAt) }),
    ...(lastAt === undefined ? {} : { last: world.iso(lastAt) }),
  };
}

export function stopFailover(world: WorldCore, target: VmInstance, test: boolean): VmView {
  let vm = target;
  if (vm.isTest) {
    const parent = world.site(vm.site).vms.get(vm.name.replace(/ - Test$/, ''));
    if (!parent) throw invalid(vm, 'its replica no longer exists');
    vm = parent;
  }
  if (test) {
    const t = vm.testVm;
    if (t === null) throw invalid(vm, 'has no test VM to remove');
    powerOff(world, t);
    world.removeInstance(t);
    vm.testVm = null;
    return vmView(world, vm);
  }
  if (vm.prepared) {
    vm.prepared = false;
    return vmView(world, vm);
  }
  if (vm.failoverStage !== 'FailedOverWaitingCompletion') {
    throw invalid(
      vm,
      'has no failover to cancel (only a prepared primary or a failover waiting for completion)',
    );
  }
  if (vm.state !== 'Off') throw invalid(vm, `is ${vm.state}; turn it off before cancelling the failover`);
  const rel = vm.incoming;
  if (vm.failoverIndex !== null) world.ledger.cancelFailover(vm.failoverIndex, world.now);
  vm.failoverStage = null;
  vm.pendingApplyMs = 0;
  vm.failoverIndex = null;
  vm.recoveryPoint = null;
  if (rel) rel.state = 'Replicating';
  return vmView(world, vm);
}

export function completeFailover(world: WorldCore, vm: VmInstance): VmView {
  if (vm.failoverStage !== 'FailedOverWaitingCompletion') {
    throw invalid(
      vm,
      `Complete-VMFailover needs a failover waiting for completion; state is ${vm.failoverStage ?? 'not failed over'}`,
    );
  }
  vm.failoverStage = 'FailedOver';
  vm.recoveryPoint = null;
  if (vm.incoming) clearPoints(vm.incoming);
  return vmView(world, vm);
}

export function reverseReplication(world: WorldCore, vm: VmInstance): { vm: VmView; resyncBytes: number } {
  if (vm.failoverStage === null) throw invalid(vm, 'Set-VMReplication -Reverse needs a failed-over replica');
  const rel = vm.incoming;
  if (rel === null) throw invalid(vm, 'has no replication relationship to reverse');
  const old = rel.source;
  const oldSite = world.reachableSite(old.site);
  if (!old.host.powered || !oldSite.powered) {
    throw new SimError(
      'HOST_DOWN',
      `the former primary of '${vm.name}' on host '${old.host.name}' at site '${old.site}' is down`,
      {
        site: vm.site,
        vm: vm.name,
        host: old.host.name,
      },
    );
  }
  if (old.state !== 'Off') {
    throw invalid(
      vm,
      `the former primary at site '${old.site}' is ${old.state}; turn it off (or fence it) first`,
    );
  }
  const now = world.now;
  const forkSeq = (vm.failoverIndex === null ? undefined : world.ledger.failoverSeq(vm.failoverIndex)) ?? 0;
  const planned = old.prepared;
  if (vm.failoverIndex !== null) world.ledger.freezeFailover(vm.failoverIndex, now);
  world.unreplicate(rel);
  old.role = 'Replica';
  old.prepared = false;
  old.failoverStage = null;
  vm.role = 'Primary';
  vm.failoverStage = null;
  vm.failoverIndex = null;
  vm.recoveryPoint = null;
  const next = world.replicate(vm, old, {
    extended: false,
    freqMs: rel.freqMs,
    phaseMs: rel.phaseMs,
    maxPoints: rel.maxPoints,
    appConsistentEvery: rel.appConsistentEvery,
    receivedSeq: forkSeq,
  });
  let resyncBytes = 0;
  if (!planned) {
    const divergent =
      Math.max(0, seqAt(old.disk, now) - forkSeq) + Math.max(0, seqAt(vm.disk, now) - forkSeq);
    resyncBytes = Math.min(vm.diskBytes, divergent * vm.bytesPerWrite);
    beginResync(next, now, resyncBytes);
  }
  // The old primary keeps the writes up to the fork (with their times); what it wrote after is discarded.
  old.disk = { ...diskFromPoint(old.disk, forkSeq, old.disk.rate), payloads: null };
  return { vm: vmView(world, vm), resyncBytes };
}
