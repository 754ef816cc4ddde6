/**
 * What the lifecycle commands print once an operation is asked for: its pre-flight (blocked:
 * the report, exit 1), then the run followed to its end (progress, the timeline, the summary,
 * a reprotect's resync), or at once with `--detach`. The same on both paths: it reads only
 * through the LifecycleClient.
 */
import type { ExecutionView, LifecycleClient } from '../../client/index.ts';
import { DrError, formatElapsed } from '../../common/index.ts';
import type { LifecycleSubmitted } from '../../executor/index.ts';
import { createPathLocator } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import {
  formatLifecycleReport,
  LifecycleBlockedError,
  type LifecycleReport,
  locateLifecycleReport,
} from '../../preflight/index.ts';
import { type CommonFlags, printDetached, printJson } from '../run/common.ts';
import { whileFollowing } from '../run/interrupt.ts';
import { summaryLines } from '../run/summary.ts';
import { watchExecution } from '../run/watch.ts';
import { resyncLines } from './resync.ts';

export interface FollowFlags extends CommonFlags {
  detach?: boolean;
}

/** The plan file a plan-level operation was given: its findings are located in it. */
export interface PlanFile {
  name: string;
  plan: RecoveryPlan;
  text: string;
}

/**
 * Ask for a lifecycle operation behind its pre-flight, then follow it. Blockers print the report
 * (exit 1, nothing changed); `--dry-run` prints it and stops.
 */
export async function submitAndFollow(
  client: LifecycleClient,
  flags: FollowFlags & { by: string },
  submit: () => Promise<LifecycleSubmitted>,
  file?: PlanFile,
): Promise<void> {
  const located = (report: LifecycleReport): LifecycleReport =>
    file === undefined ? report : locateLifecycleReport(report, file.plan, createPathLocator(file.text));
  const format = (report: LifecycleReport): string =>
    formatLifecycleReport(located(report), file === undefined ? {} : { file: file.name });
  let submitted: LifecycleSubmitted;
  try {
    submitted = await submit();
  } catch (error) {
    if (!(error instanceof LifecycleBlockedError)) throw error;
    process.exitCode = 1;
    if (flags.json) printJson({ ok: false, code: error.code, preflight: located(error.report) });
    else process.stdout.write(`${format(error.report)}\n`);
    return;
  }
  if (submitted.dryRun) {
    const report = submitted.preflight === undefined ? undefined : located(submitted.preflight);
    if (flags.json) printJson({ ok: true, dryRun: true, preflight: report });
    else if (submitted.preflight) process.stdout.write(`${format(submitted.preflight)}\n`);
    return;
  }
  if (submitted.preflight && !flags.json) {
    const report = submitted.preflight;
    const warned = report.warnings.length === 0 ? '' : `, ${report.warnings.length} warning(s)`;
    process.stdout.write(`pre-flight ok: ${report.vms.length} VM(s)${warned}\n`);
    for (const line of format(report).split('\n').slice(1, -1))
      if (line.includes(' warning ')) process.stdout.write(`${line}\n`);
  }
  await follow(client, submitted, flags, { resubmitCancelAs: flags.by });
}

/** The settled statuses of a lifecycle execution and of a failover (a cancel waits on it first). */
const DONE = ['completed', 'failed', 'cancelled'];

/**
 * Follow a submitted lifecycle execution to its end and print its outcome. `resubmitCancelAs`: a
 * cancel whose failover settled without its rollback stored asks for it again, as this user.
 */
export async function follow(
  client: LifecycleClient,
  submitted: LifecycleSubmitted,
  flags: FollowFlags,
  options: { resubmitCancelAs?: string } = {},
): Promise<ExecutionView | undefined> {
  const out = flags.json ? process.stderr : process.stdout;
  if (!submitted.created && !flags.json) out.write(`already submitted: ${submitted.id}\n`);
  const run =
    submitted.run ??
    (await client.state(submitted.id).then(
      (s) => s?.run,
      () => undefined,
    ));
  if (run && !flags.json) {
    out.write(
      `${submitted.id}: ${run.vms.length} VM(s) of ${run.parent}${run.partial ? ' (partial)' : ''}\n`,
    );
    for (const s of run.skipped) out.write(`  left out ${s.vm}: ${s.reason}\n`);
    if (run.undone?.length) out.write(`  undo actions to run: ${run.undone.join(', ')}\n`);
    if (run.notUndone?.length)
      out.write(`  actions that ran and have no undo (undo them by hand): ${run.notUndone.join(', ')}\n`);
  }
  if (flags.detach) {
    printDetached(submitted.id, flags, {
      execution: submitted.id,
      created: submitted.created,
      ...(submitted.pendingCancelOf ? { after: submitted.pendingCancelOf } : {}),
      ...(run ? { run } : {}),
    });
    return undefined;
  }
  // Ctrl-C while waiting for a running failover's rollback names the failover, then the rollback.
  const first = submitted.pendingCancelOf ?? submitted.id;
  const view = await whileFollowing({ id: first, prefix: flags.prefix }, () =>
    followToEnd(client, submitted, flags, out, options.resubmitCancelAs),
  );
  if (view.status !== 'completed') process.exitCode = 1;
  return view;
}

async function followToEnd(
  client: LifecycleClient,
  submitted: LifecycleSubmitted,
  flags: FollowFlags,
  out: NodeJS.WriteStream,
  resubmitCancelAs: string | undefined,
): Promise<ExecutionView> {
  if (submitted.pendingCancelOf !== undefined) {
    if (!flags.json)
      out.write(
        `${submitted.pendingCancelOf} is running: no new step starts; its rollback ${submitted.id} follows once the steps in flight end\n`,
      );
    await waitUntilExists(client, submitted.id, submitted.pendingCancelOf, resubmitCancelAs);
  }
  if (/-reprotect-\d+$/.test(submitted.id) && !flags.json) await reportReversed(client, submitted.id, out);
  const view = await watchExecution(client.executions, submitted.id, {
    until: DONE,
    explainInterrupt: { prefix: flags.prefix },
    ...(flags.json ? { timeline: false, out: process.stderr } : {}),
  });
  const state = await client.state(submitted.id, { resync: view.type === 'reprotect' });
  const resync = view.type === 'reprotect' ? (state?.resync ?? []) : undefined;
  if (flags.json) {
    printJson({
      ...view,
      ...(state?.run ? { lifecycle: state.run } : {}),
      ...(resync ? { resync } : {}),
    });
  } else {
    for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
    if (resync) for (const line of resyncLines(resync)) process.stdout.write(`${line}\n`);
    if (view.parent) {
      const parent = await client.executions.get(view.parent);
      process.stdout.write(`failover ${parent.id} is now ${parent.status}\n`);
    }
  }
  return view;
}

/** The engine stores a failback's reprotect right after the failback's end: wait for it. */
export async function waitForExecution(client: LifecycleClient, id: string): Promise<void> {
  const since = Date.now();
  let hinted = false;
  while ((await client.state(id)) === undefined) {
    if (!hinted && Date.now() - since > 5000) {
      process.stderr.write(
        `the reprotect ${id} is not stored yet: it is the orchestrator's to store; is \`drctl orchestrator\` running against this Redis and prefix?\n`,
      );
      hinted = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A running failover's rollback is stored once it settles: wait for it (or for the failover to end otherwise). */
async function waitUntilExists(
  client: LifecycleClient,
  id: string,
  failover: string,
  resubmitCancelAs: string | undefined,
): Promise<void> {
  for (;;) {
    if ((await client.state(id)) !== undefined) return;
    const parent = await client.executions.get(failover);
    // Settled but its rollback not stored (the orchestrator stores it: it may have stopped in
    // between): store it, behind the cancel's pre-flight.
    if (parent.status === 'cancelling' && resubmitCancelAs !== undefined)
      await client.cancel(failover, { by: resubmitCancelAs, reason: 'cancel' });
    if (!['submitted', 'running', 'paused', 'cancelling'].includes(parent.status)) {
      throw new DrError(
        'CANCEL_NOT_STARTED',
        `failover ${failover} ended ${parent.status} before its rollback was stored; run \`drctl cancel ${failover}\` again`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Once every VM of a reprotect is reversed, say how much must be resynchronized and how long it
 * should take, before following the replication until it is healthy.
 */
async function reportReversed(client: LifecycleClient, id: string, out: NodeJS.WriteStream): Promise<void> {
  for (;;) {
    const state = await client.state(id);
    if (state?.run === undefined || state.run.vms.length === 0) return;
    if (state.reversed) break;
    if (state.status !== 'submitted' && state.status !== 'running' && state.status !== 'paused') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const rows = (await client.state(id, { resync: true }))?.resync ?? [];
  const total = rows.reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  const longest = rows.reduce((max, r) => Math.max(max, r.estimateMs ?? 0), 0);
  out.write(
    `${rows.length} VM(s) reversed: ${(total / 1024 / 1024).toFixed(1)} MiB to resynchronize, about ${formatElapsed(longest)} simulated; following until health is Normal\n`,
  );
}
