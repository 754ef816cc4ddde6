/**
 * The samples an inventory batch gives the history (engine/control/history, 5-minute buckets per
 * VM): each replicating VM's RPO and health as its agent measured them. The shape is the
 * history's `HistorySample`, plus when the control plane received it. Pure.
 */
import type { ReplicationHealth } from '../../hosts/index.ts';
import type { InventoryBatch } from './wire.ts';

export interface InventorySample {
  vm: string;
  site: string;
  /** When the agent measured it: the hosts' clock of the batch, ms since the epoch. */
  at: number;
  /** at - last replication, seconds; null before the first replication. */
  rpoSec: number | null;
  health: ReplicationHealth;
  /** When the control plane received it, ms (its own clock). */
  receivedAt: number;
}

export function samplesOf(site: string, batch: InventoryBatch, receivedAt: number): InventorySample[] {
  const at = Date.parse(batch.hostTime);
  const samples: InventorySample[] = [];
  for (const vm of batch.vms) {
    const r = vm.replication;
    // Test VMs and VMs without replication have no RPO to chart.
    if (r === null || vm.isTest) continue;
    const last = r.lastReplicationTime === undefined ? undefined : Date.parse(r.lastReplicationTime);
    samples.push({
      vm: vm.name,
      site,
      at,
      rpoSec: last === undefined ? null : Math.max(0, (at - last) / 1000),
      health: r.health,
      receivedAt,
    });
  }
  return samples;
}
