/**
 * Per-VM persistence of the VM machine: one small JSON value per VM (a hash field in Redis), so
 * that an execution's snapshot never grows with the plan. The state is the machine's own
 * (`getInitialSnapshot` → state name and context); transitions go through vm-table.ts.
 */
import { initialTransition } from 'xstate';
import { VM_PHASES, type VmPhase } from '../contract/index.ts';
import { type VmContext, type VmEvent, type VmMode, vmMachine } from './vm-machine.ts';
import { nextVmState, type VmState, vmTags } from './vm-table.ts';

/** Bump when the persisted shape or the meaning of a state changes. */
export const VM_SNAPSHOT_VERSION = 1;

export type VmSnapshot = VmState;

interface PersistedVm {
  v: number;
  /** State value (the machine is flat: a state name). */
  s: string;
  c: VmContext;
}

const initial = new Map<VmMode, VmSnapshot>();

/** Where a lifecycle execution picks a VM up: the state its failover (or commit) left it in. */
const LIFECYCLE_START: Partial<Record<VmMode, string>> = {
  commit: 'failedOver',
  cancel: 'failedOver',
  'change-point': 'ready',
  reprotect: 'committed',
};

export function initialVmSnapshot(vm: string, mode: VmMode): VmSnapshot {
  let template = initial.get(mode);
  if (!template) {
    const [snapshot] = initialTransition(vmMachine, { vm: '', mode });
    template = { value: LIFECYCLE_START[mode] ?? String(snapshot.value), context: snapshot.context };
    initial.set(mode, template);
  }
  return { value: template.value, context: { ...template.context, vm } };
}

/** Apply an event; `changed` is false when the machine does not accept it in its state. */
export function applyVmEvent(
  snapshot: VmSnapshot,
  event: VmEvent,
): { snapshot: VmSnapshot; changed: boolean } {
  const next = nextVmState(snapshot, event);
  return next ? { snapshot: next, changed: true } : { snapshot, changed: false };
}

/** The operator-facing phase of a VM snapshot (the state's tag). */
export function vmPhase(snapshot: VmSnapshot): VmPhase {
  const tags = vmTags(snapshot.value);
  return VM_PHASES.find((phase) => tags.includes(phase)) ?? 'waiting';
}

/** The state's name, as Hyper-V Replica / ASR would call it (e.g. `failedOver`). */
export function vmStateName(snapshot: VmSnapshot): string {
  return snapshot.value;
}

export function persistVm(snapshot: VmSnapshot): string {
  const compact: PersistedVm = { v: VM_SNAPSHOT_VERSION, s: snapshot.value, c: snapshot.context };
  return JSON.stringify(compact);
}

export function restoreVm(json: string): VmSnapshot {
  const parsed = JSON.parse(json) as PersistedVm;
  if (parsed.v !== VM_SNAPSHOT_VERSION) {
    throw new Error(`VM snapshot version ${parsed.v} is not supported (expected ${VM_SNAPSHOT_VERSION})`);
  }
  return { value: parsed.s, context: parsed.c };
}
