/**
 * Which phase a failback that reprotects by itself (`thenReprotect`) is in, from its own status:
 * 1/2 the planned failover back to the plan's source, 2/2 the reprotect that reverses replication
 * to the original direction (submitted by the orchestrator, orchestrator/follow-up.ts). The
 * failback's machine moves `running → reprotecting` in one write, so it never reads "completed"
 * with its replication not yet reversed.
 */
import type { ExecutionStatus } from '../../contract/index.ts';

export interface FailbackPhase {
  /** 1: failover back; 2: reprotect. */
  step: 1 | 2;
  of: 2;
  name: 'failover back' | 'reprotect';
  state: 'running' | 'done' | 'failed';
  /** Phase 2: the reprotect execution (once the engine has named it). */
  reprotect?: string;
  /** What to run when a phase failed. */
  hint?: string;
}

/**
 * The phase of a `thenReprotect` failback. `current` is the failback's current lifecycle
 * execution (its reprotect) when there is one.
 */
export function failbackPhase(
  id: string,
  status: ExecutionStatus,
  current: string | undefined,
): FailbackPhase {
  const back = { step: 1, of: 2, name: 'failover back' } as const;
  const reprotect = {
    step: 2,
    of: 2,
    name: 'reprotect',
    ...(current ? { reprotect: current } : {}),
  } as const;
  switch (status) {
    case 'submitted':
    case 'running':
    case 'paused':
      return { ...back, state: 'running' };
    case 'completed':
      // Only a failback stored before thenReprotect existed, or one whose end the orchestrator
      // recorded without its follow-up: the next orchestrator submits the reprotect.
      return { ...reprotect, state: 'running' };
    case 'reprotecting':
      return { ...reprotect, state: 'running' };
    case 'reprotected':
      return { ...reprotect, state: 'done' };
    case 'reprotect-failed':
      return {
        ...reprotect,
        state: 'failed',
        hint: `the VMs run at home, but their replication is not reversed (${current ?? 'the reprotect'} failed): fix the cause (\`drctl status ${current ?? id}\`), then run \`drctl reprotect <plan.yaml>\``,
      };
    case 'cancelling':
    case 'cancelled':
      return { ...back, state: 'failed', hint: 'the failback was cancelled: the VMs stay where they ran' };
    default:
      return {
        ...back,
        state: 'failed',
        hint: `the failover back did not finish, so no reprotect was started: see \`drctl status ${id}\`; commit or cancel it, then fail back again`,
      };
  }
}

/** One line for people: `phase 2/2 reprotect (<id>): running`. */
export function failbackPhaseLine(phase: FailbackPhase): string {
  const id = phase.reprotect ? ` (${phase.reprotect})` : '';
  return `phase ${phase.step}/${phase.of} ${phase.name}${id}: ${phase.state}${phase.hint ? ` — ${phase.hint}` : ''}`;
}
