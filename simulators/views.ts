import type { HostView, ReplicationMeasure, ReplicationState, VmReplicationView, VmView } from './api.ts';
import type { Host, Relationship, VmInstance } from './model.ts';
import { bootingCount, hostUsage } from './power.ts';
import { listPoints } from './recovery-points.ts';
import { changeLogBytes, healthOf, sourceSeq } from './replication.ts';
import { seqAt } from './workload.ts';
import type { WorldCore } from './world.ts';

/** Get-VM / Get-VMReplication / Measure-VMReplication as one site sees its VMs. */

/** The relationship that describes this instance's replication (incoming for a replica). */
export function mainRelationship(vm: VmInstance): Relationship | null {
  if (vm.role === 'Primary') return vm.outgoing.find((r) => !r.extended) ?? vm.outgoing[0] ?? null;
  if (vm.role === 'Replica' || vm.role === 'ExtendedReplica') return vm.incoming;
  return null;
}

function replicationState(vm: VmInstance, rel: Relationship | null): ReplicationState {
  if (vm.failoverStage !== null) return vm.failoverStage;
  if (vm.prepared) return 'PreparedForFailover';
  if (rel === null) return 'Disabled';
  if (rel.state === 'Stopped') {
    // The primary's replica was failed over: the primary can no longer replicate.
    return vm.role === 'Primary' ? 'Error' : 'FailedOver';
  }
  return rel.state;
}

export function replicationView(world: WorldCore, vm: VmInstance): VmReplicationView | null {
  const rel = mainRelationship(vm);
  if (vm.role === 'None' || vm.role === 'TestReplica') return null;
  if (rel === null) {
    return {
      mode: vm.role,
      state: replicationState(vm, null),
      health: 'Normal',
      primarySite: vm.site,
      replicaSite: vm.site,
      frequencySec: 300,
      resyncRequired: false,
    };
  }
  const state = replicationState(vm, rel);
  const health =
    state === 'Error' ? 'Critical' : vm.failoverStage !== null ? 'Normal' : healthOf(rel, world.now);
  return {
    mode: vm.role,
    state,
    health,
    primarySite: rel.source.site,
    replicaSite: rel.target.site,
    frequencySec: (rel.freqMs / 1000) as 30 | 300 | 900,
    lastReplicationTime: world.iso(rel.lastReplicationAt),
    resyncRequired: rel.state === 'WaitingForStartResynchronize',
  };
}

export function vmView(world: WorldCore, vm: VmInstance): VmView {
  return {
    site: vm.site,
    host: vm.host.name,
    name: vm.name,
    isTest: vm.isTest,
    state: vm.state,
    heartbeat: vm.heartbeatOk ? 'Ok' : 'NoContact',
    replication: replicationView(world, vm),
    network: vm.network ? { ...vm.network } : null,
    automaticStartAction: vm.automaticStartAction,
    uptimeSec: vm.poweredOnAt === null ? 0 : Math.max(0, world.now - vm.poweredOnAt) / 1000,
    epoch: vm.epoch,
    startBarred: vm.prepared || vm.fencedEpoch !== null,
    memoryMb: vm.memoryMb,
    ...(vm.recoveryPoint === null ? {} : { recoveryPoint: { ...vm.recoveryPoint } }),
  };
}

export function hostView(host: Host): HostView {
  const used = hostUsage(host);
  return {
    site: host.site,
    name: host.name,
    powered: host.powered,
    vmSlots: host.vmSlots,
    memoryMb: host.memoryMb,
    usedSlots: used.slots,
    usedMemoryMb: used.memoryMb,
    maxConcurrentBoots: host.maxConcurrentBoots,
    booting: bootingCount(host),
  };
}

export function measureView(world: WorldCore, vm: VmInstance): ReplicationMeasure {
  const rel = mainRelationship(vm);
  const now = world.now;
  if (rel === null) return { pendingBytes: 0, missedCycles: 0, totalCycles: 0, health: 'Normal' };
  return {
    pendingBytes: changeLogBytes(rel, now),
    lastReplicationTime: world.iso(rel.lastReplicationAt),
    missedCycles: rel.missedCycles,
    totalCycles: rel.totalCycles,
    health: replicationView(world, vm)?.health ?? 'Normal',
  };
}

/**
 * The write sequence numbers behind a VM's replication, for tests and `drctl sim` (SimControl's
 * `replicationSeqs`): what the primary acknowledged, what the replica received and applied, and
 * each listed recovery point's highest write. Hyper-V has none of this; the engine never sees it.
 */
export function replicationSeqs(world: WorldCore, vm: VmInstance): ReplicationSeqs {
  const rel = mainRelationship(vm);
  const now = world.now;
  if (rel === null) {
    const seq = seqAt(vm.disk, now);
    return { primarySeq: seq, receivedSeq: seq, appliedSeq: seq, points: [] };
  }
  const replica = vm.role === 'Replica' || vm.role === 'ExtendedReplica';
  return {
    primarySeq: sourceSeq(rel, now),
    receivedSeq: rel.receivedSeq,
    appliedSeq: rel.appliedSeq,
    points:
      replica && vm.failoverStage !== 'FailedOver'
        ? listPoints(rel, (ms) => world.iso(ms)).map((p) => ({ id: p.id, time: p.time, seq: p.seq }))
        : [],
  };
}

export interface ReplicationSeqs {
  primarySeq: number;
  receivedSeq: number;
  appliedSeq: number;
  points: { id: string; time: string; seq: number }[];
}
