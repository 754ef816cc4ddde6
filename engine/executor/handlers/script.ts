import { spawn } from 'node:child_process';
import type { ActionRun, PlanAction } from '../../plan/types.ts';
import { type ActionExecutionContext, actionExecutionContext, tail } from './action-context.ts';
import { type CatalogScript, findCatalogScript } from './catalog.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';

/** After a timeout SIGTERM, the script gets this long to exit before SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * A script action from the engine's catalog folder: `<name>` (executable), `<name>.sh` or
 * `<name>.mjs`, run with the action's timeout, no shell, and an environment describing the
 * execution (DR_EXECUTION, DR_PLAN, DR_TYPE, DR_DIRECTION, DR_ACTION, DR_WHEN, DR_UNDO, DR_STEP,
 * DR_VM, DR_GROUP, DR_VMS (comma-separated), DR_SITE, DR_FROM_SITE, DR_TO_SITE, DR_EPOCH, DR_ATTEMPT,
 * and DR_ARG_<NAME> per argument).
 * Exit 0 is done; anything else fails the step with the output's tail in the result.
 */
export async function scriptAction(
  ctx: HandlerContext,
  action: PlanAction,
  scriptRun: Extract<ActionRun, { type: 'script' }>,
  vms?: readonly string[],
): Promise<HandlerOutcome> {
  const where = { step: ctx.step, site: ctx.job.site };
  const name = scriptRun.script;
  const script = await resolveScript(ctx, name);
  const env = scriptEnvironment(actionExecutionContext(ctx, action, scriptRun, vms));
  const run = await runScript(ctx, script, env, action.timeoutMs);
  const output: Record<string, unknown> = {
    script: name,
    path: script.path,
    exitCode: run.exitCode,
    signal: run.signal,
    durationMs: run.durationMs,
    stdout: run.stdout.text,
    stderr: run.stderr.text,
    truncated: run.stdout.truncated || run.stderr.truncated,
  };
  if (run.timedOut) {
    throw new StepError(
      'SCRIPT_TIMEOUT',
      `${ctx.step}: script "${name}" ran past its timeout of ${action.timeoutMs} ms and was killed; make it faster or raise the action's timeout`,
      where,
      { output },
    );
  }
  if (run.exitCode !== 0) {
    const last = run.stderr.text.trim().split('\n').at(-1) ?? '';
    throw new StepError(
      'SCRIPT_FAILED',
      `${ctx.step}: script "${name}" exited with ${run.exitCode ?? run.signal}${last ? `: ${last}` : ''}`,
      where,
      { output },
    );
  }
  return { outcome: 'done', mutated: true, output };
}

async function resolveScript(ctx: HandlerContext, name: string): Promise<CatalogScript> {
  const where = { step: ctx.step, site: ctx.job.site };
  const catalog = ctx.options.scriptCatalog;
  if (catalog === undefined || catalog === '') {
    throw new StepError(
      'SCRIPT_CATALOG_UNSET',
      `${ctx.step}: no script catalog on this worker; start it with --script-catalog <dir> or DR_SCRIPT_CATALOG`,
      where,
    );
  }
  const found = await findCatalogScript(catalog, name);
  if (!found.ok) throw new StepError(found.code, `${ctx.step}: ${found.message}`, where);
  return found.script;
}

/** The environment of a script: the worker's own, plus the execution described in DR_* variables. */
export function scriptEnvironment(context: ActionExecutionContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DR_EXECUTION: context.execution,
    DR_PLAN: context.plan ?? '',
    DR_TYPE: context.type,
    DR_DIRECTION: context.direction,
    DR_ACTION: context.action,
    DR_WHEN: context.when,
    DR_UNDO: context.undo ? '1' : '',
    DR_STEP: context.step,
    DR_VM: context.vm ?? '',
    DR_GROUP: context.group ?? '',
    DR_VMS: context.vms.join(','),
    DR_SITE: context.site,
    DR_FROM_SITE: context.fromSite,
    DR_TO_SITE: context.toSite,
    DR_EPOCH: String(context.epoch),
    DR_ATTEMPT: String(context.attempt),
  };
  for (const [key, value] of Object.entries(context.args)) {
    env[`DR_ARG_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = value;
  }
  return env;
}

interface ScriptRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: { text: string; truncated: boolean };
  stderr: { text: string; truncated: boolean };
}

async function runScript(
  ctx: HandlerContext,
  script: CatalogScript,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ScriptRun> {
  const started = Date.now();
  const limit = ctx.options.outputLimitBytes;
  // Its own process group, so a timeout kills whatever the script started too.
  const child = spawn(script.command, script.args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = collector(limit);
  const err = collector(limit);
  child.stdout.on('data', out.push);
  child.stderr.on('data', err.push);
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const stop = (): void => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, sig) => resolve([code, sig]));
    });
    return {
      exitCode,
      signal,
      timedOut,
      durationMs: Date.now() - started,
      stdout: out.done(),
      stderr: err.done(),
    };
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', stop);
  }
}

/** Collects a stream's bytes, keeping at most twice the limit in memory, the tail in the end. */
function collector(limit: number): {
  push: (chunk: Buffer) => void;
  done: () => { text: string; truncated: boolean };
} {
  let chunks: Buffer[] = [];
  let size = 0;
  let dropped = false;
  return {
    push: (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit * 2) {
        const joined = Buffer.concat(chunks);
        chunks = [joined.subarray(joined.length - limit)];
        size = limit;
        dropped = true;
      }
    },
    done: () => {
      const result = tail(Buffer.concat(chunks).toString('utf8'), limit);
      return { text: result.text, truncated: result.truncated || dropped };
    },
  };
}
