/**
 * What the run commands share: reaching Redis, loading a plan (bad input exits 2 with located
 * issues), the recovery-point flag, and the client.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { createRedisExecutionClient, type ExecutionClient } from '../../client/index.ts';
import { InputError } from '../../common/index.ts';
import { DEFAULT_PREFIX } from '../../executor/index.ts';
import { compilePlan, formatIssue, loadPlanFile, parsePlan } from '../../plan/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../../plan/types.ts';
import type { HyperVReadApi } from '../../preflight/index.ts';
import { checkRedisUrl } from '../../redis/index.ts';

export interface CommonFlags {
  prefix: string;
  json?: boolean;
}

export const PREFIX_OPTION = ['--prefix <prefix>', 'Redis key prefix of the engine', DEFAULT_PREFIX] as const;

/** REDIS_URL, checked with one PING so a missing or unreachable Redis is one clear line. */
export async function redisUrlFromEnv(): Promise<string> {
  return await checkRedisUrl(process.env.REDIS_URL);
}

/**
 * The client for the run commands. `inventory` (read access to the sites) is what pre-flight reads
 * before a drill or failover; commands that only watch or clean up go without it.
 */
export async function openClient(
  flags: CommonFlags,
  redisUrl?: string,
  inventory?: HyperVReadApi,
): Promise<ExecutionClient> {
  return createRedisExecutionClient({
    redisUrl: redisUrl ?? (await redisUrlFromEnv()),
    prefix: flags.prefix,
    compile: compilePlan,
    ...(inventory === undefined ? {} : { inventory }),
  });
}

/** The plan, its hash and its text (to locate pre-flight findings as file:line:column). */
export async function loadPlanOrExit(
  file: string,
): Promise<{ plan: RecoveryPlan; hash: string; text: string }> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  // An unreadable file goes through loadPlanFile for its located "no such file" issue.
  const result = text === undefined ? await loadPlanFile(file) : parsePlan(text, file);
  if (!result.ok) {
    const lines = result.issues.map(formatIssue).join('\n');
    throw new InputError(
      'PLAN_INVALID',
      `${file} is not a valid recovery plan; nothing was started:\n${lines}`,
    );
  }
  return { plan: result.plan, hash: result.hash, text: text ?? '' };
}

/** `latest | latestProcessed | latestAppConsistent | <ISO time>` */
export function parseRecoveryPoint(value: string): RecoveryPointChoice {
  if (value === 'latest' || value === 'latestProcessed' || value === 'latestAppConsistent')
    return { kind: value };
  if (!Number.isNaN(Date.parse(value))) return { kind: 'at', at: new Date(value).toISOString() };
  throw new InvalidArgumentError(
    `"${value}" is not a recovery point: use latest, latestProcessed, latestAppConsistent or an ISO time like 2026-11-25T23:00:00Z`,
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * `--detach`: the execution id alone on stdout (for scripts: `id=$(drctl … --detach)`), how to
 * follow it on stderr. The run goes on in the engine whatever happens to this process.
 */
export function printDetached(id: string, flags: CommonFlags, json: Record<string, unknown>): void {
  if (flags.json) printJson(json);
  else process.stdout.write(`${id}\n`);
  const prefix = flags.prefix !== DEFAULT_PREFIX ? ` --prefix ${flags.prefix}` : '';
  process.stderr.write(
    `${id} runs in the engine; follow it with \`drctl status ${id}${prefix}\` or \`drctl events ${id} --follow${prefix}\`\n`,
  );
}
