/**
 * A VM that ran in two sites. When a lost source site returns before its agent, Hyper-V's
 * automatic start action starts the old primaries while their VMs already run where they failed
 * over to. The agent notices it from what Get-VM shows at its site (the old primary Running or
 * Starting, replication mode Primary) once the engine recorded the VM failed over elsewhere (the
 * late fence job, fence.ts; the fence sweep, fence-sweep.ts), fences it at once and records the
 * divergence: how long it ran (Get-VM's Uptime) and what a reprotect would overwrite on it (its
 * writes since its last replication, Get-VMReplication and Measure-VMReplication). Never the
 * simulator's ledger: that only judges these figures in tests.
 */
import {
  type Divergence,
  type DivergenceDetector,
  EVENT_SCHEMA_VERSION,
  type ExecutionEvent,
} from '../../contract/index.ts';
import type { HostDriver, VmView } from '../../hosts/index.ts';

/** An old primary running as one: not a test VM, Running or Starting, replication mode Primary (or none). */
export function runsAsPrimary(view: VmView): boolean {
  const mode = view.replication?.mode ?? 'None';
  return (
    !view.isTest &&
    (mode === 'Primary' || mode === 'None') &&
    (view.state === 'Running' || view.state === 'Starting')
  );
}

export interface DivergedSighting {
  site: string;
  vm: string;
  /** The epoch of the failover the VM went out with: the fence is issued under it. */
  epoch: number;
  /** Where the VM failed over to. */
  runsAt: string;
  detectedBy: DivergenceDetector;
  /** The old primary as Get-VM showed it, running. */
  view: VmView;
  /** Host time just before that Get-VM (api.now()): its start is this minus its Uptime. */
  seenAt: string;
}

export interface FencedDivergence {
  divergence: Divergence;
  /** The VM after the fence, or undefined when the fence failed (`error`). */
  fenced?: VmView;
  error?: unknown;
}

/**
 * Fence a diverged old primary (turn it off, bar it from starting under the failover's epoch) and
 * measure what it did: from its start (Uptime) until the fence, and its writes a reprotect would
 * discard. A fence that fails is reported with the divergence (`fenced: false`), not thrown.
 */
export async function fenceDiverged(api: HostDriver, sighting: DivergedSighting): Promise<FencedDivergence> {
  const { site, vm, epoch, view } = sighting;
  let fenced: VmView | undefined;
  let error: unknown;
  try {
    fenced = await api.fenceVM({ site, vm, epoch });
  } catch (caught) {
    error = caught;
  }
  const until = await api.now().catch(() => sighting.seenAt);
  const from = Date.parse(sighting.seenAt) - Math.max(0, view.uptimeSec) * 1000;
  const pending = await api
    .measureVMReplication(site, vm)
    .then((m) => m.pendingBytes)
    .catch(() => undefined);
  const since = view.replication?.lastReplicationTime;
  const divergence: Divergence = {
    vm,
    site,
    runsAt: sighting.runsAt,
    ranFrom: new Date(from).toISOString(),
    ranUntil: until,
    ranMs: Math.max(0, Date.parse(until) - from),
    fenced: fenced !== undefined,
    discard: {
      ...(since === undefined ? {} : { since }),
      ...(pending === undefined ? {} : { bytes: pending }),
    },
    detectedBy: sighting.detectedBy,
  };
  return { divergence, ...(fenced ? { fenced } : {}), ...(error === undefined ? {} : { error }) };
}

/** The `diverged` event of an execution's log. */
export function divergedEvent(execution: string, divergence: Divergence): ExecutionEvent {
  return {
    v: EVENT_SCHEMA_VERSION,
    at: new Date().toISOString(),
    type: 'diverged',
    execution,
    ...divergence,
  };
}
