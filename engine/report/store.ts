/**
 * Reports read from the vault's Redis: an execution's record, plan snapshot and event log (and a
 * drill's cleanup), the hash of each report generated (`<prefix>:{exec:<id>}:reports`), and the
 * drills of a plan. Nothing here expires: executions, their event logs and these hashes carry no
 * TTL (REPORT_RETENTION_MS is the floor the vault promises; BullMQ's job records and the action
 * memo, which reports never read, go after 7 days).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../common/index.ts';
import {
  type ExecutionRecord,
  executionKeys,
  globalKeys,
  loadExecution,
  loadPlanSnapshot,
  readAllEvents,
} from '../executor/index.ts';
import { buildReport, type ReportInput } from './build.ts';
import { EXECUTION_META, renderHistoryHtml, renderReportHtml } from './html.ts';
import {
  type DrillHistory,
  type DrillHistoryRow,
  type ExecutionReport,
  executionReportSchema,
  overall,
  REPORT_SCHEMA_VERSION,
} from './model.ts';

/** How long the vault keeps what a report needs, at least: 13 months (396 days). */
export const REPORT_RETENTION_MS = 396 * 24 * 3600 * 1000;

export type ReportFormat = 'html' | 'json';

/** A report as generated: its exact bytes (UTF-8) and their SHA-256, recorded with the execution. */
export interface GeneratedReport {
  execution: string;
  format: ReportFormat;
  body: string;
  sha256: string;
  report: ExecutionReport;
}

export function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** What buildReport needs, read from Redis. */
export async function readReportInput(
  redis: Redis,
  prefix: string,
  execution: string,
  now: number,
): Promise<ReportInput> {
  const { record } = await loadExecution(redis, prefix, execution);
  const [plan, events] = await Promise.all([
    loadPlanSnapshot(redis, prefix, execution),
    readAllEvents(redis, prefix, execution),
  ]);
  const input: ReportInput = { record, plan, events, now };
  if (record.type === 'test' && record.cleanup !== undefined) {
    const cleanup = await loadCleanup(redis, prefix, record.cleanup);
    if (cleanup) input.cleanup = cleanup;
  }
  return input;
}

async function loadCleanup(
  redis: Redis,
  prefix: string,
  id: string,
): Promise<ReportInput['cleanup'] | undefined> {
  try {
    const { record } = await loadExecution(redis, prefix, id);
    return { record, events: await readAllEvents(redis, prefix, id) };
  } catch (error) {
    if (error instanceof DrError && error.code === 'EXECUTION_NOT_FOUND') return undefined;
    throw error;
  }
}

/** The bytes of a report in a format. */
export function renderReport(report: ExecutionReport, format: ReportFormat): string {
  return format === 'html' ? renderReportHtml(report) : `${JSON.stringify(report)}\n`;
}

/** Build, render and record a report of an execution. */
export async function generateReport(
  redis: Redis,
  prefix: string,
  execution: string,
  format: ReportFormat,
  now: number = Date.now(),
): Promise<GeneratedReport> {
  const report = buildReport(await readReportInput(redis, prefix, execution, now));
  const body = renderReport(report, format);
  const hash = sha256(body);
  await redis.hset(
    executionKeys(prefix, execution).reports,
    hash,
    JSON.stringify({ generatedAt: report.generatedAt, format }),
  );
  return { execution, format, body, sha256: hash, report };
}

export interface Verification {
  execution: string;
  sha256: string;
  /** The hash was recorded when a report of the execution was generated: the file is unchanged. */
  matches: boolean;
  recorded?: { generatedAt: string; format: ReportFormat };
}

/**
 * Which execution a report file says it is of: the `<meta name="dr-execution">` of the HTML form,
 * `execution.id` of the JSON form. A file that says neither is no report (exit 2).
 */
export function executionOfReport(content: string, where: string): string {
  const meta = new RegExp(`<meta name="${EXECUTION_META}" content="([^"]*)">`).exec(content);
  if (meta?.[1] !== undefined) return unescapeAttribute(meta[1]);
  try {
    const parsed = executionReportSchema.shape.execution.safeParse(
      (JSON.parse(content) as { execution?: unknown }).execution,
    );
    if (parsed.success) return parsed.data.id;
  } catch {
    // not JSON either
  }
  throw new DrError(
    'NOT_A_REPORT',
    `${where} is not a report (it names no execution); give the .html or .json file that \`drctl report\` wrote`,
    { exitCode: 2 },
  );
}

function unescapeAttribute(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Is this hash one recorded for the execution? */
export async function checkReportHash(
  redis: Redis,
  prefix: string,
  execution: string,
  hash: string,
): Promise<Verification> {
  await loadExecution(redis, prefix, execution);
  const raw = await redis.hget(executionKeys(prefix, execution).reports, hash);
  if (raw === null) return { execution, sha256: hash, matches: false };
  const recorded = JSON.parse(raw) as { generatedAt: string; format: ReportFormat };
  return { execution, sha256: hash, matches: true, recorded };
}

/** The drills of a plan, newest `limit`, each judged as its report judges it. */
export async function drillHistory(
  redis: Redis,
  prefix: string,
  plan: string,
  options: {
    limit?: number;
    now?: number;
    /**
     * The plan's targets when the vault stores it (its newest version), undefined when it does not:
     * a stored plan never run, or never drilled, has an empty history judged against them.
     */
    stored?: (plan: string) => Promise<DrillHistory['targets'] | undefined>;
  } = {},
): Promise<DrillHistory> {
  const limit = options.limit ?? 50;
  const now = options.now ?? Date.now();
  const ids = await redis.zrevrange(globalKeys(prefix).executions, 0, -1);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(executionKeys(prefix, id).meta, 'planName', 'type');
  const replies = (await pipeline.exec()) ?? [];
  const ofPlan = ids.flatMap((id, i) => {
    const [name, type] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
    return name === plan ? [{ id, type }] : [];
  });
  const stored = ofPlan.length === 0 ? await options.stored?.(plan) : undefined;
  if (ofPlan.length === 0 && stored === undefined)
    throw new DrError(
      'PLAN_NOT_FOUND',
      `no plan named '${plan}' in this vault and no execution of one; GET /api/v1/plans lists the stored plans, \`drctl status\` the executions`,
      { exitCode: 2 },
    );
  const drills = ofPlan.filter((one) => one.type === 'test').map((one) => one.id);
  const rows: DrillHistoryRow[] = [];
  let targets: DrillHistory['targets'] = {};
  for (const id of drills.slice(0, limit)) {
    const input = await readReportInput(redis, prefix, id, now);
    const report = buildReport(input);
    if (rows.length === 0) targets = { ...input.plan.targets };
    rows.push(historyRow(input.record, report));
  }
  if (rows.length === 0) targets = { ...(stored ?? (await options.stored?.(plan)) ?? {}) };
  return {
    v: REPORT_SCHEMA_VERSION,
    kind: 'drill-history',
    plan,
    generatedAt: new Date(now).toISOString(),
    targets,
    drills: rows.reverse(),
  };
}

function historyRow(record: ExecutionRecord, report: ExecutionReport): DrillHistoryRow {
  const { rto, rpo } = report.objectives;
  return {
    execution: record.id,
    createdAt: record.createdAt,
    status: record.status,
    by: record.by,
    reason: record.reason,
    hash: record.hash,
    vms: report.vms.length,
    rto,
    rpo,
    verdict: overall(rto.verdict, rpo.verdict),
  };
}

export function renderHistory(history: DrillHistory, format: ReportFormat): string {
  return format === 'html' ? renderHistoryHtml(history) : `${JSON.stringify(history)}\n`;
}
