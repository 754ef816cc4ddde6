import type { DataLossClaim, EngineEvent } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION } from '../../contract/index.ts';
import type { VmSnapshot } from '../../machines/index.ts';

/**
 * Each VM's data-loss claim as its failover (or change of point) reported it to the VM's machine,
 * in the order of `vms` (a VM without one is left out): what the engine itself saw, never the
 * simulator's ledger (engine/contract/data-loss.ts says how a claim is made).
 */
export function collectDataLoss(vms: readonly { name: string; snapshot: VmSnapshot }[]): DataLossClaim[] {
  return vms.flatMap(({ snapshot }) => {
    const claim = snapshot.context.dataLoss;
    return claim === undefined ? [] : [claim];
  });
}

/** The `data-loss` event of an execution's claims. */
export function dataLossEvent(execution: string, at: string, claims: DataLossClaim[]): EngineEvent {
  return {
    v: EVENT_SCHEMA_VERSION,
    at,
    type: 'data-loss',
    execution,
    vms: claims,
    maxWindowMs: claims.reduce((max, c) => Math.max(max, c.windowMs), 0),
    anyAtLeast: claims.some((c) => c.bound === 'atLeast'),
  };
}
