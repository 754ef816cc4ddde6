/**
 * A step's state as stored in the execution's `steps` hash (one field per step; absent = pending).
 * Compact strings: `q|<attempt>|<jobKey>` (queued in job `<jobKey>` at that attempt), or a final
 * outcome `done` | `warned` | `skipped` | `failed`, or `paused|<attempt>` (failed, its policy `pause`:
 * it waits for an operator's `drctl step retry|skip|done`; not final).
 */
export type StepStatus = 'pending' | 'queued' | 'done' | 'warned' | 'skipped' | 'failed' | 'paused';

export interface StepState {
  status: StepStatus;
  /** Attempt of the job that carries it (1 = first). */
  attempt: number;
  /** First step id of the job that carries it (with the attempt: the BullMQ job id). */
  jobKey?: string;
}

export const PENDING: StepState = { status: 'pending', attempt: 1 };

export function encodeStepState(state: StepState): string {
  return state.status === 'queued'
    ? `q|${state.attempt}|${state.jobKey ?? ''}`
    : `${state.status}|${state.attempt}`;
}

export function decodeStepState(value: string | undefined): StepState {
  if (value === undefined) return PENDING;
  const [head = '', second = '1', ...rest] = value.split('|');
  const attempt = Number.parseInt(second, 10) || 1;
  if (head === 'q') return { status: 'queued', attempt, jobKey: rest.join('|') };
  if (head === 'done' || head === 'warned' || head === 'skipped' || head === 'failed' || head === 'paused') {
    return { status: head, attempt };
  }
  return PENDING;
}

/** A finished step that lets its successors go. */
export function releasesSuccessors(status: StepStatus): boolean {
  return status === 'done' || status === 'warned' || status === 'skipped';
}

export function isFinal(status: StepStatus): boolean {
  return status !== 'pending' && status !== 'queued' && status !== 'paused';
}
