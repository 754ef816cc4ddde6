/**
 * Per-VM persistence of the VM machine: one small JSON value per VM (a hash field in Redis), so
 * that an execution's snapshot never grows with the plan. Transitions are computed with xstate's
 * pure `transition`, no actor per VM.
 */
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import type { VmPhase } from '../executor/contract.ts';
import { type VmContext, type VmEvent, type VmMode, vmMachine } from './vm-machine.ts';

/** Bump when the persisted shape or the meaning of a state changes. */
export const VM_SNAPSHOT_VERSION = 1;

export type VmSnapshot = SnapshotFrom<typeof vmMachine>;

interface PersistedVm {
  v: number;
  /** State value (the machine is flat: a state name). */
  s: string;
  c: VmContext;
}

const PHASES: readonly VmPhase[] = [
  'waiting',
  'shutting-down',
  'failing-over',
  'booting',
  'awaiting-readiness',
  'ready',
  'cleaning-up',
  'cleaned-up',
  'failed',
];

export function initialVmSnapshot(vm: string, mode: VmMode): VmSnapshot {
  return initialTransition(vmMachine, { vm, mode })[0];
}

/** Apply an event; `changed` is false when the machine does not accept it in its state. */
export function applyVmEvent(
  snapshot: VmSnapshot,
  event: VmEvent,
): { snapshot: VmSnapshot; changed: boolean } {
  if (!snapshot.can(event)) return { snapshot, changed: false };
  const [next] = transition(vmMachine, snapshot, event);
  return { snapshot: next, changed: true };
}

/** The operator-facing phase of a VM snapshot. */
export function vmPhase(snapshot: VmSnapshot): VmPhase {
  for (const phase of PHASES) if (snapshot.hasTag(phase)) return phase;
  return 'waiting';
}

/** The state's name, as Hyper-V Replica / ASR would call it (e.g. `failedOver`). */
export function vmStateName(snapshot: VmSnapshot): string {
  return String(snapshot.value);
}

export function persistVm(snapshot: VmSnapshot): string {
  const persisted = vmMachine.getPersistedSnapshot(snapshot) as unknown as {
    value: string;
    context: VmContext;
  };
  const compact: PersistedVm = { v: VM_SNAPSHOT_VERSION, s: persisted.value, c: persisted.context };
  return JSON.stringify(compact);
}

export function restoreVm(json: string): VmSnapshot {
  const parsed = JSON.parse(json) as PersistedVm;
  if (parsed.v !== VM_SNAPSHOT_VERSION) {
    throw new Error(`VM snapshot version ${parsed.v} is not supported (expected ${VM_SNAPSHOT_VERSION})`);
  }
  return vmMachine.resolveState({ value: parsed.s, context: parsed.c });
}
