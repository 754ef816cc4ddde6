/**
 * Named points where a test can make the orchestrator die (SIGKILL, no cleanup, as a power cut):
 * `DR_CRASH_AT=<point>` and `DR_CRASH_AFTER=<n>` (the n-th pass, default 1).
 */
export type CrashPoint =
  | 'after-job-finished-before-record'
  | 'after-record-before-dispatch'
  /** An execution's end is recorded, what it starts (follow-up.ts) is not stored yet. */
  | 'after-finish-before-follow-up';

/** The points every execution passes while its steps run (resume tests kill at each). */
export const CRASH_POINTS: readonly CrashPoint[] = [
  'after-job-finished-before-record',
  'after-record-before-dispatch',
];

const passes = new Map<CrashPoint, number>();

export function crashPoint(point: CrashPoint, env: NodeJS.ProcessEnv = process.env): void {
  if (env.DR_CRASH_AT !== point) return;
  const count = (passes.get(point) ?? 0) + 1;
  passes.set(point, count);
  if (count >= Number(env.DR_CRASH_AFTER ?? '1')) process.kill(process.pid, 'SIGKILL');
}
