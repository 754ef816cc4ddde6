/**
 * The report of one execution, computed from its record and event log alone (pure: the caller
 * reads them, store.ts). The achieved RTO is the one the orchestrator recorded (finish.ts: submit
 * → last VM ready, wall clock), as `drctl status` prints it; each VM's is submit → its own `ready`
 * phase on the same clock. The data-loss window is the engine's claim (the execution's `dataLoss`,
 * engine/contract/data-loss.ts); a drill loses nothing, so its window is what a failover at that
 * moment would have lost: from the test VM's recovery point to the host's time of the test
 * failover (the failover step's output), on the sites' clock.
 */
import type { DataLossClaim } from '../contract/index.ts';
import type { ExecutionRecord, StoredEvent } from '../executor/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import { sitesOf } from '../schedule/index.ts';
import {
  type ExecutionReport,
  judge,
  overall,
  REPORT_SCHEMA_VERSION,
  type ReportAction,
  type ReportCleanup,
  type ReportError,
  type ReportVm,
} from './model.ts';
import { describeEvent, scriptOutput, TIMELINE_CLOCKS } from './timeline.ts';

export interface ReportInput {
  record: ExecutionRecord;
  plan: RecoveryPlan;
  events: readonly StoredEvent[];
  /** A drill's cleanup execution, when one was submitted. */
  cleanup?: { record: ExecutionRecord; events: readonly StoredEvent[] };
  /** Clock (ms) for `generatedAt`. */
  now: number;
}

const RECOVERIES = new Set(['test', 'planned', 'unplanned']);

export function choiceText(choice: RecoveryPointChoice): string {
  return choice.kind === 'at' ? `at ${choice.at}` : choice.kind;
}

interface VmFacts {
  phase?: string;
  readyAt?: string;
  point?: { id?: string; kind?: string; time: string };
  hostTime?: string;
  claim?: DataLossClaim;
}

type StepEvent = Extract<StoredEvent['event'], { type: 'step-finished' | 'operator-action' | 'step-paused' }>;

export function buildReport(input: ReportInput): ExecutionReport {
  const { record, plan, events } = input;
  const createdMs = Date.parse(record.createdAt);
  const { fromSite, toSite } = sitesOf({ plan, direction: record.direction });
  const vmNames = plan.vms.map((vm) => vm.name);
  const facts = new Map<string, VmFacts>(vmNames.map((name) => [name, {}]));
  const fact = (vm: string): VmFacts => {
    let found = facts.get(vm);
    if (found === undefined) {
      found = {};
      facts.set(vm, found);
    }
    return found;
  };
  /** step-finished / operator-action / step-paused of each step, in log order. */
  const byStep = new Map<string, StepEvent[]>();
  for (const { event } of events) {
    switch (event.type) {
      case 'vm-phase': {
        const f = fact(event.vm);
        f.phase = event.phase;
        if (event.phase === 'ready') f.readyAt = event.at;
        break;
      }
      case 'step-finished':
      case 'operator-action':
      case 'step-paused': {
        const list = byStep.get(event.step);
        if (list === undefined) byStep.set(event.step, [event]);
        else list.push(event);
        if (event.type === 'step-finished' && event.outcome === 'done') failoverFacts(event, fact);
        break;
      }
      default:
        break;
    }
  }
  for (const claim of record.dataLoss ?? []) fact(claim.vm).claim = claim;

  const recovery = RECOVERIES.has(record.type);
  const targets = plan.targets;
  const vms: ReportVm[] = vmNames.map((vm) => vmRow(vm, fact(vm), record, createdMs, targets, recovery));
  const rto = judge(targets.rtoMs, recovery ? record.rtoMs : undefined);
  const windows = vms.flatMap((vm) => (vm.dataLoss === undefined ? [] : [vm.dataLoss.windowMs]));
  const rpo = judge(
    targets.rpoMs,
    recovery && windows.length > 0 ? windows.reduce((a, b) => Math.max(a, b), 0) : undefined,
  );
  // A VM with no measure of its own fails the whole only through the execution's verdicts.
  const verdict = overall(rto.verdict, rpo.verdict, ...vms.flatMap((vm) => [vm.rto.verdict, vm.rpo.verdict]));

  const execution: ExecutionReport['execution'] = {
    id: record.id,
    type: record.type,
    direction: record.direction,
    status: record.status,
    by: record.by,
    reason: record.reason,
    createdAt: record.createdAt,
    epoch: record.epoch,
    ...(record.startedAt ? { startedAt: record.startedAt } : {}),
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    ...(record.readyAt ? { readyAt: record.readyAt } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.parent ? { parent: record.parent } : {}),
    ...(record.cleanup ? { cleanup: record.cleanup } : {}),
    ...(record.estimateMs !== undefined ? { estimateMs: record.estimateMs } : {}),
    ...(record.durationMs !== undefined ? { durationMs: record.durationMs } : {}),
  };
  const cleanup = record.type === 'test' ? cleanupProof(record, vmNames, input.cleanup) : undefined;
  return {
    v: REPORT_SCHEMA_VERSION,
    kind: 'execution-report',
    generatedAt: new Date(input.now).toISOString(),
    execution,
    scope: {
      plan: plan.metadata.name,
      ...(plan.metadata.description ? { description: plan.metadata.description } : {}),
      hash: record.hash,
      source: fromSite,
      target: toSite,
      vms: vmNames,
      recoveryPoint: choiceText(record.recoveryPoint ?? plan.recoveryPoint),
    },
    objectives: { rto, rpo, verdict },
    vms,
    approvals: approvals(byStep, record.by),
    actions: actions(plan, byStep),
    errors: errors(byStep),
    ...(cleanup ? { cleanup } : {}),
    timeline: timeline(createdMs, events, input.cleanup?.events ?? []),
    clocks: TIMELINE_CLOCKS,
  };
}

/** A failover step's recovery point, the drill's host time and a failover's claim (its output). */
function failoverFacts(
  event: Extract<StepEvent, { type: 'step-finished' }>,
  fact: (vm: string) => VmFacts,
): void {
  const slash = event.step.lastIndexOf('/');
  const kind = event.step.slice(slash + 1);
  if ((kind !== 'failover' && kind !== 'change-point') || event.output === undefined) return;
  const f = fact(event.step.slice(0, slash));
  const point = event.output.recoveryPoint;
  if (typeof point === 'object' && point !== null && typeof (point as { time?: unknown }).time === 'string') {
    const p = point as { id?: unknown; kind?: unknown; time: string };
    f.point = {
      time: p.time,
      ...(typeof p.id === 'string' ? { id: p.id } : {}),
      ...(typeof p.kind === 'string' ? { kind: p.kind } : {}),
    };
  }
  if (typeof event.output.hostTime === 'string') f.hostTime = event.output.hostTime;
}

function vmRow(
  vm: string,
  f: VmFacts,
  record: ExecutionRecord,
  createdMs: number,
  targets: RecoveryPlan['targets'],
  recovery: boolean,
): ReportVm {
  const readyMs = f.readyAt === undefined ? undefined : Date.parse(f.readyAt) - createdMs;
  const loss = lossOf(record, f);
  return {
    vm,
    ...(f.phase ? { phase: f.phase } : {}),
    ...(f.point ? { recoveryPoint: f.point } : {}),
    ...(f.readyAt ? { readyAt: f.readyAt } : {}),
    rto: judge(targets.rtoMs, recovery ? readyMs : undefined),
    ...(loss ? { dataLoss: loss } : {}),
    rpo: judge(targets.rpoMs, recovery ? loss?.windowMs : undefined),
  };
}

function lossOf(record: ExecutionRecord, f: VmFacts): ReportVm['dataLoss'] {
  if (f.claim) {
    const { windowStart, windowEnd, windowMs, bound, basis } = f.claim;
    return { windowStart, windowEnd, windowMs, bound, basis };
  }
  if (record.type !== 'test' || f.point === undefined || f.hostTime === undefined) return undefined;
  const windowMs = Math.max(0, Date.parse(f.hostTime) - Date.parse(f.point.time));
  return {
    windowStart: f.point.time,
    windowEnd: f.hostTime,
    windowMs,
    bound: 'exact',
    basis: `drill: the test VM was made from recovery point ${f.point.id ?? ''} (${f.point.time}); a failover at host time ${f.hostTime} would have lost the writes after the point`,
  };
}

function approvals(byStep: Map<string, StepEvent[]>, submitter: string): ExecutionReport['approvals'] {
  const rows: ExecutionReport['approvals'] = [];
  for (const [step, list] of byStep) {
    for (const event of list) {
      if (event.type === 'operator-action' && event.command === 'approve')
        rows.push({
          step,
          by: event.by,
          comment: event.reason,
          givenAt: event.givenAt,
          appliedAt: event.at,
          accepted: event.accepted,
          ...(event.detail ? { detail: event.detail } : {}),
        });
      // Manual actions pre-approved at submit (`--approve-manual`): the submitter approved them.
      if (
        event.type === 'step-finished' &&
        typeof event.output?.approvedBy === 'string' &&
        event.output.approvedAt === undefined
      )
        rows.push({
          step,
          by: `${submitter} (pre-approved at submit)`,
          comment: event.output.approvedBy,
          givenAt: event.at,
          appliedAt: event.at,
          accepted: true,
        });
    }
  }
  return rows.sort((a, b) => a.appliedAt.localeCompare(b.appliedAt));
}

const OUTPUT_SHOWN_APART = new Set(['stdout', 'stderr', 'truncated']);

function actions(plan: RecoveryPlan, byStep: Map<string, StepEvent[]>): ReportAction[] {
  const rows: ReportAction[] = [];
  const kinds = new Map(plan.actions.map((a) => [a.name, a.run.type]));
  for (const [step, list] of byStep) {
    if (!step.startsWith('action/')) continue;
    const action = step.slice('action/'.length);
    for (const event of list) {
      if (event.type !== 'step-finished') continue;
      const output = event.output ?? {};
      const rest = Object.fromEntries(Object.entries(output).filter(([key]) => !OUTPUT_SHOWN_APART.has(key)));
      rows.push({
        step,
        action,
        kind: kinds.get(action.split('/')[0] ?? action) ?? 'script',
        outcome: event.outcome,
        attempt: event.attempt,
        at: event.at,
        site: event.site,
        ...(typeof output.stdout === 'string' && output.stdout !== '' ? { stdout: output.stdout } : {}),
        ...(typeof output.stderr === 'string' && output.stderr !== '' ? { stderr: output.stderr } : {}),
        ...(output.truncated === true ? { truncated: true } : {}),
        ...(Object.keys(rest).length > 0 ? { output: JSON.stringify(rest) } : {}),
        ...(event.error ? { error: { code: event.error.code, message: event.error.message } } : {}),
      });
    }
  }
  return rows.sort((a, b) => a.at.localeCompare(b.at));
}

/**
 * Each failure (a failed or warned step, a step paused for an operator) and what came of it: the
 * first later event of the same step decides (an operator's skip or done, a later attempt's end).
 */
function errors(byStep: Map<string, StepEvent[]>): ReportError[] {
  const rows: ReportError[] = [];
  for (const [step, list] of byStep) {
    list.forEach((event, index) => {
      if (event.type === 'operator-action') return;
      if (event.type === 'step-finished' && (event.error === undefined || event.outcome === 'done')) return;
      const error = event.error;
      if (error === undefined) return;
      // A paused step's step-finished precedes its step-paused: one failure, told once.
      const next = list[index + 1];
      if (event.type === 'step-finished' && next?.type === 'step-paused' && next.attempt === event.attempt)
        return;
      const row: ReportError = {
        step,
        at: event.at,
        attempt: event.attempt,
        code: error.code,
        message: error.message,
        resolution: event.type === 'step-finished' && event.outcome === 'warned' ? 'continued' : 'unresolved',
      };
      if (row.resolution === 'unresolved') resolve(row, list.slice(index + 1));
      rows.push(row);
    });
  }
  return rows.sort((a, b) => a.at.localeCompare(b.at));
}

function resolve(row: ReportError, later: StepEvent[]): void {
  for (const event of later) {
    if (event.type === 'operator-action') {
      if (!event.accepted) continue;
      row.resolvedBy = event.by;
      row.resolvedAt = event.at;
      if (event.reason) row.reason = event.reason;
      if (event.command === 'skip') row.resolution = 'skipped';
      else if (event.command === 'done') row.resolution = 'marked-done';
      else continue; // retry (or approve): the next attempt's end decides
      return;
    }
    if (event.type !== 'step-finished' || event.attempt <= row.attempt) continue;
    row.resolvedAt = event.at;
    row.resolution =
      event.outcome === 'done' || event.outcome === 'warned'
        ? 'retried-ok'
        : event.outcome === 'skipped'
          ? 'skipped'
          : 'retried-failed';
    return;
  }
}

/** A drill's cleanup, from its cleanup execution's `<vm>/cleanup` step results. */
function cleanupProof(
  record: ExecutionRecord,
  vmNames: readonly string[],
  cleanup: ReportInput['cleanup'],
): ReportCleanup {
  const rows: ReportCleanup['vms'] = [];
  const done = new Set<string>();
  for (const { event } of cleanup?.events ?? []) {
    if (event.type !== 'step-finished' || !event.step.endsWith('/cleanup')) continue;
    const vm = event.step.slice(0, -'/cleanup'.length);
    if (event.outcome === 'done') done.add(vm);
    rows.push({
      vm,
      ...(typeof event.output?.testVm === 'string' ? { testVm: event.output.testVm } : {}),
      outcome: event.outcome,
      removed: event.output?.removed === true,
      at: event.at,
    });
  }
  const missing = vmNames.filter((vm) => !done.has(vm));
  return {
    ...(cleanup ? { execution: cleanup.record.id } : {}),
    status: cleanup ? cleanup.record.status : record.status,
    complete: cleanup !== undefined && missing.length === 0 && record.status === 'cleaned-up',
    vms: rows,
    missing,
  };
}

function timeline(
  createdMs: number,
  events: readonly StoredEvent[],
  cleanupEvents: readonly StoredEvent[],
): ExecutionReport['timeline'] {
  const rows: ExecutionReport['timeline'] = [];
  for (const stored of [...events, ...cleanupEvents]) {
    const { event } = stored;
    const output = event.type === 'step-finished' ? scriptOutput(event.output) : [];
    rows.push({
      at: event.at,
      offsetMs: Math.max(0, Date.parse(event.at) - createdMs),
      execution: event.execution,
      text: describeEvent(stored),
      ...(output.length > 0 ? { output: output.map((line) => line.trimStart()) } : {}),
    });
  }
  return rows;
}
