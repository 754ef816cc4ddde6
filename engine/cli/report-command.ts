/**
 * `drctl report <execution> [-o report.html] [--json]`: an execution's exercise report, its
 * SHA-256 printed and recorded with the execution; `drctl report --verify <file>`: does a copy
 * match a recorded report; `drctl report --plan <name>`: achieved RTO and data loss across the
 * plan's drills (a table, `--json`, or an HTML chart and table with `-o`). Through the control plane
 * (`--server`) or on Redis directly, as every run command.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  bearerHeader,
  problemError,
  serverUrlFrom,
  tokenFor,
  unreachable,
  withTrust,
} from '../client/index.ts';
import { formatElapsed, InputError } from '../common/index.ts';
import { createStoredTargets } from '../control/plans/store.ts';
import { createQueueConnection } from '../executor/index.ts';
import {
  checkReportHash,
  type DrillHistory,
  drillHistory,
  executionOfReport,
  generateReport,
  type ReportFormat,
  renderHistory,
  sha256,
  type Verification,
} from '../report/index.ts';
import { type CommonFlags, PREFIX_OPTION, printJson, redisUrlFromEnv } from './run/common.ts';
import { SERVER_OPTION, usesServer } from './run/connect.ts';

interface ReportFlags extends CommonFlags {
  output?: string;
  plan?: string;
  verify?: string;
  limit: number;
  server?: string;
}

/** What the command reads and records through: Redis directly or the control plane. */
interface ReportBackend {
  report(id: string, format: ReportFormat): Promise<{ body: string; sha256: string }>;
  verify(id: string, hash: string): Promise<Verification>;
  history(plan: string, limit: number): Promise<DrillHistory>;
  close(): Promise<void>;
}

async function directBackend(prefix: string): Promise<ReportBackend> {
  const redis = createQueueConnection(await redisUrlFromEnv(), { name: 'drctl-report' });
  return {
    report: async (id, format) => await generateReport(redis, prefix, id, format),
    verify: async (id, hash) => await checkReportHash(redis, prefix, id, hash),
    history: async (plan, limit) =>
      await drillHistory(redis, prefix, plan, { limit, stored: createStoredTargets(redis, prefix) }),
    close: async () => {
      redis.disconnect();
    },
  };
}

function serverBackend(server: string): ReportBackend {
  const api = `${server.replace(/\/$/, '')}/api/v1`;
  const token = tokenFor(server);
  const headers = bearerHeader(server, token);
  const get = async (path: string, what: string): Promise<Response> => {
    let response: Response;
    const init = withTrust(server, { headers, signal: AbortSignal.timeout(120_000) });
    try {
      response = await fetch(`${api}${path}`, init);
    } catch (error) {
      // The cause fetch nests (refused, unknown host, untrusted certificate), as every command says it.
      throw unreachable(server, error);
    }
    if (!response.ok) throw problemError(response.status, await response.text(), what);
    return response;
  };
  return {
    report: async (id, format) => {
      const response = await get(
        `/executions/${encodeURIComponent(id)}/report?format=${format}`,
        'the report',
      );
      const body = await response.text();
      return { body, sha256: response.headers.get('x-report-sha256') ?? sha256(body) };
    },
    verify: async (id, hash) =>
      (await (
        await get(`/executions/${encodeURIComponent(id)}/reports/${hash}`, 'the verification')
      ).json()) as Verification,
    history: async (plan, limit) =>
      (await (
        await get(`/plans/${encodeURIComponent(plan)}/drills?format=json&limit=${limit}`, 'the drill history')
      ).json()) as DrillHistory,
    close: async () => {},
  };
}

export function registerReportCommand(program: Command): void {
  program
    .command('report [execution]')
    .description(
      "An execution's exercise report (self-contained HTML, or --json), its SHA-256 recorded; --verify a copy; --plan: drill history",
    )
    .option('-o, --output <file>', 'write the report to this file (else to stdout)')
    .option('--json', 'the JSON form (the export of the execution: record, per-VM results, timeline)')
    .option('--verify <file>', 'check a report file against the hashes recorded when reports were generated')
    .option('--plan <name>', "achieved RTO and data loss across the plan's drills")
    .option('--limit <n>', 'with --plan: the newest this many drills', (v) => Number.parseInt(v, 10), 50)
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .action(async (execution: string | undefined, flags: ReportFlags) => {
      const modes = [execution !== undefined, flags.plan !== undefined, flags.verify !== undefined];
      if (modes.filter(Boolean).length !== 1)
        throw new InputError(
          'REPORT_USAGE',
          'give one of: an execution (`drctl report <execution> -o report.html`), --plan <name> (drill history) or --verify <file>',
        );
      if (!Number.isInteger(flags.limit) || flags.limit < 1)
        throw new InputError('BAD_LIMIT', `--limit ${flags.limit}: give a whole number of drills, 1 or more`);
      const backend = usesServer(flags)
        ? serverBackend(serverUrlFrom(flags.server))
        : await directBackend(flags.prefix);
      try {
        if (flags.verify !== undefined) await verify(backend, flags.verify, flags);
        else if (flags.plan !== undefined) await history(backend, flags.plan, flags);
        else if (execution !== undefined) await report(backend, execution, flags);
      } finally {
        await backend.close();
      }
    });
}

async function writeOutput(file: string, body: string): Promise<void> {
  try {
    await writeFile(file, body);
  } catch (error) {
    throw new InputError(
      'OUTPUT_UNWRITABLE',
      `cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give -o a path in a writable folder`,
    );
  }
}

async function report(backend: ReportBackend, id: string, flags: ReportFlags): Promise<void> {
  const format: ReportFormat = flags.json ? 'json' : 'html';
  const generated = await backend.report(id, format);
  if (flags.output === undefined) {
    process.stdout.write(generated.body);
    process.stderr.write(`sha256 ${generated.sha256} (recorded with ${id})\n`);
    return;
  }
  await writeOutput(flags.output, generated.body);
  process.stdout.write(
    `${flags.output}: report of ${id}, sha256 ${generated.sha256} (recorded with the execution; check a copy with \`drctl report --verify ${flags.output}\`)\n`,
  );
}

async function verify(backend: ReportBackend, file: string, flags: ReportFlags): Promise<void> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    throw new InputError(
      'REPORT_UNREADABLE',
      `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give the path of a report file`,
    );
  }
  const execution = executionOfReport(content.toString('utf8'), file);
  const result = await backend.verify(execution, sha256(content));
  if (!result.matches) process.exitCode = 1;
  if (flags.json) return printJson({ file, ...result });
  process.stdout.write(
    result.matches
      ? `${file} matches the ${result.recorded?.format ?? ''} report of ${execution} generated at ${result.recorded?.generatedAt ?? '-'} (sha256 ${result.sha256})\n`
      : `${file} does NOT match any report recorded for ${execution} (sha256 ${result.sha256}): it was changed, or not generated by drctl report\n`,
  );
}

async function history(backend: ReportBackend, plan: string, flags: ReportFlags): Promise<void> {
  const drills = await backend.history(plan, flags.limit);
  if (flags.output !== undefined) {
    const format: ReportFormat = flags.json ? 'json' : 'html';
    await writeOutput(flags.output, renderHistory(drills, format));
    process.stdout.write(`${flags.output}: ${drills.drills.length} drill(s) of ${plan}\n`);
    return;
  }
  if (flags.json) return printJson(drills);
  const t = drills.targets;
  process.stdout.write(
    `drills of ${plan}: targets RTO ${t.rtoMs === undefined ? '-' : formatElapsed(t.rtoMs)}, RPO ${t.rpoMs === undefined ? '-' : formatElapsed(t.rpoMs)} (RTO wall clock, data loss the sites' clock)\n`,
  );
  if (drills.drills.length === 0) {
    process.stdout.write('no drills\n');
    return;
  }
  process.stdout.write(
    `${'DRILL'.padEnd(32)} ${'SUBMITTED'.padEnd(24)} ${'STATUS'.padEnd(16)} ${'VMS'.padStart(6)} ${'RTO'.padStart(10)} ${''.padEnd(12)} ${'DATA LOSS'.padStart(10)} ${''.padEnd(12)} VERDICT\n`,
  );
  const ms = (v: number | undefined) => (v === undefined ? '-' : formatElapsed(v));
  for (const d of drills.drills)
    process.stdout.write(
      `${d.execution.padEnd(32)} ${d.createdAt.padEnd(24)} ${d.status.padEnd(16)} ${String(d.vms).padStart(6)} ${ms(d.rto.achievedMs).padStart(10)} ${d.rto.verdict.padEnd(12)} ${ms(d.rpo.achievedMs).padStart(10)} ${d.rpo.verdict.padEnd(12)} ${d.verdict}\n`,
    );
}
