/**
 * What the inventory reporter sends of a host driver's answers: each declared field copied by
 * name (nothing else a driver returns ever leaves the site), and the split of a sweep into
 * batches under the body cap. Pure.
 */

import type { WireHost, WireNetwork, WireVm } from '../control/inventory/index.ts';
import type { HostView, NetworkView, RecoveryPoint, VmView } from '../hosts/index.ts';

/** A VmView and its recovery points as the wire record. `hostNowMs`: the hosts' clock of the read. */
export function wireVm(view: VmView, hostNowMs: number, points: readonly RecoveryPoint[]): WireVm {
  const latest = points.find((p) => p.kind === 'latest');
  const r = view.replication;
  return {
    name: view.name,
    host: view.host,
    isTest: view.isTest,
    state: view.state,
    heartbeat: view.heartbeat,
    automaticStartAction: view.automaticStartAction,
    // Uptime as a power-on time: it does not change while the VM runs, so it is no change to send.
    ...(view.state === 'Off' || !(view.uptimeSec > 0)
      ? {}
      : { poweredOnAt: new Date(Math.round(hostNowMs - view.uptimeSec * 1000)).toISOString() }),
    epoch: view.epoch,
    startBarred: view.startBarred,
    memoryMb: view.memoryMb,
    network:
      view.network === null
        ? null
        : {
            network: view.network.network,
            ...(view.network.ip === undefined ? {} : { ip: view.network.ip }),
          },
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
            ...(r.lastReplicationTime === undefined ? {} : { lastReplicationTime: r.lastReplicationTime }),
            resyncRequired: r.resyncRequired,
          },
    ...(view.recoveryPoint === undefined
      ? {}
      : {
          madeFrom: {
            id: view.recoveryPoint.id,
            kind: view.recoveryPoint.kind,
            time: view.recoveryPoint.time,
          },
        }),
    ...(latest === undefined ? {} : { latest: { id: latest.id, time: latest.time } }),
    points: points
      .filter((p): p is RecoveryPoint & { kind: 'standard' | 'appConsistent' } => p.kind !== 'latest')
      .map((p) => ({ id: p.id, kind: p.kind, time: p.time })),
  };
}

export function wireHost(h: HostView): WireHost {
  return {
    name: h.name,
    powered: h.powered,
    vmSlots: h.vmSlots,
    memoryMb: h.memoryMb,
    usedSlots: h.usedSlots,
    usedMemoryMb: h.usedMemoryMb,
    maxConcurrentBoots: h.maxConcurrentBoots,
    booting: h.booting,
  };
}

export function wireNetwork(n: NetworkView): WireNetwork {
  return { name: n.name, isolated: n.isolated };
}

/** A VM record and the size it adds to a body. */
export interface Sized<T> {
  item: T;
  bytes: number;
}

export function sized<T>(item: T): Sized<T> {
  return { item, bytes: Buffer.byteLength(JSON.stringify(item)) + 1 };
}

/**
 * Splits items into groups whose bytes stay under `maxBytes` (after `firstOverhead` in the first
 * group, `overhead` in each) and `maxItems`. Always at least one group, possibly empty.
 */
export function splitBatches<T>(
  items: readonly Sized<T>[],
  options: { maxBytes: number; maxItems: number; overhead: number; firstOverhead: number },
): T[][] {
  const groups: T[][] = [[]];
  let bytes = options.firstOverhead;
  for (const { item, bytes: size } of items) {
    const current = groups.at(-1) ?? [];
    if (current.length > 0 && (bytes + size > options.maxBytes || current.length >= options.maxItems)) {
      groups.push([item]);
      bytes = options.overhead + size;
    } else {
      current.push(item);
      bytes += size;
    }
  }
  return groups;
}
