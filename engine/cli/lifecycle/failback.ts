/**
 * `drctl failback <plan>`: the planned failover back home of the plan's reprotected failover, then
 * the reprotect the engine stores once every VM is home, both followed to their end.
 */
import type { FailbackSubmitted, LifecycleClient } from '../../client/index.ts';
import { EXECUTION_STATUSES, failbackPhaseLine } from '../../executor/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { PreflightBlockedError } from '../../preflight/index.ts';
import { printDetached, printJson } from '../run/common.ts';
import { summaryLines } from '../run/summary.ts';
import { watchExecution } from '../run/watch.ts';
import { type FollowFlags, follow, waitForExecution } from './follow.ts';

export interface FailbackFlags extends FollowFlags {
  by: string;
  reason?: string;
  approveManual?: boolean;
}

/** Statuses of a thenReprotect failback once its failover back ended (well or not). */
const FAILBACK_PHASE_1_ENDED = EXECUTION_STATUSES.filter(
  (s) => s !== 'submitted' && s !== 'running' && s !== 'paused',
);

export async function runFailback(
  client: LifecycleClient,
  file: { name: string; plan: RecoveryPlan; hash: string; text: string },
  flags: FailbackFlags,
): Promise<void> {
  const { plan } = file;
  let submitted: FailbackSubmitted;
  try {
    submitted = await client.failback(
      { plan: plan.metadata.name, file: file.name },
      {
        by: flags.by,
        plan,
        hash: file.hash,
        text: file.text,
        // The engine reverses replication once every VM is home: this process may die meanwhile.
        thenReprotect: true,
        ...(flags.reason === undefined ? {} : { reason: flags.reason }),
        ...(flags.approveManual ? { approveManual: true } : {}),
      },
    );
  } catch (error) {
    if (error instanceof PreflightBlockedError) {
      process.exitCode = 1;
      if (flags.json) printJson({ ok: false, code: error.code, message: error.message });
      else process.stdout.write(`${error.message}\n`);
      return;
    }
    throw error;
  }
  const out = flags.json ? process.stderr : process.stdout;
  if (flags.detach) {
    printDetached(submitted.id, flags, {
      execution: submitted.id,
      epoch: submitted.epoch,
      steps: submitted.stepsTotal,
      thenReprotect: true,
    });
    return;
  }
  out.write(
    `failback ${submitted.id} (planned, ${plan.target} → ${plan.source}), then reprotect (${plan.source} → ${plan.target}); both phases run in the engine\n`,
  );
  const view = await watchExecution(client.executions, submitted.id, {
    until: FAILBACK_PHASE_1_ENDED,
    explainInterrupt: { prefix: flags.prefix },
    ...(flags.json ? { timeline: false, out: process.stderr } : {}),
  });
  if (!flags.json) for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
  const reprotectId = view.phase?.reprotect ?? (await client.state(submitted.id))?.lifecycle.current;
  const reprotecting = ['reprotecting', 'reprotected', 'reprotect-failed'].includes(view.status);
  if (!reprotecting || reprotectId === undefined) {
    // The failover back did not complete: no reprotect was started.
    const final = await client.executions.get(submitted.id);
    if (flags.json) printJson(final);
    else if (final.phase) out.write(`${failbackPhaseLine(final.phase)}\n`);
    if (final.status !== 'reprotected') process.exitCode = 1;
    return;
  }
  if (!flags.json && view.phase) out.write(`${failbackPhaseLine(view.phase)}\n`);
  await waitForExecution(client, reprotectId);
  await follow(client, { id: reprotectId, created: true }, { ...flags, detach: false });
  const final = await client.executions.get(submitted.id);
  if (!flags.json && final.phase)
    process.stdout.write(`failback ${final.id}: ${failbackPhaseLine(final.phase)}\n`);
  if (final.status !== 'reprotected') process.exitCode = 1;
}
