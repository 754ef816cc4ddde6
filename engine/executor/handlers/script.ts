import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ActionRun, PlanAction } from '../../plan/types.ts';
import { type ActionExecutionContext, actionExecutionContext, tail } from './action-context.ts';
import { type CatalogScript, findCatalogScript } from './catalog.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';

/** After a SIGTERM (timeout, cancel, shutdown, the worker gone), the script's group gets this long before SIGKILL. */
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
  attempt?: number,
  spawned?: (pgid: number) => Promise<void>,
): Promise<HandlerOutcome> {
  const where = { step: ctx.step, site: ctx.job.site };
  const name = scriptRun.script;
  const script = await resolveScript(ctx, name);
  const context = actionExecutionContext(ctx, action, scriptRun, vms, attempt);
  const env = scriptEnvironment(context);
  const run = await runScript(ctx, script, env, action.timeoutMs, spawned);
  const output: Record<string, unknown> = {
    script: name,
    path: script.path,
    attempt: context.attempt,
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

/** The supervisor each script runs under (script-supervisor.mjs says what it does). */
const SUPERVISOR = fileURLToPath(new URL('./script-supervisor.mjs', import.meta.url));

/**
 * Run a script under its supervisor, in a process group of its own, with execa: the action's
 * timeout and the step's signal (cancel, lost lock, shutdown) SIGTERM the supervisor, which
 * SIGTERMs the whole group and SIGKILLs it after KILL_GRACE_MS; should the supervisor itself not
 * be gone a second later, execa SIGKILLs it and the worker SIGKILLs what is left of the group. The
 * supervisor's stdin is a pipe from this worker that is never written: when the worker dies, the
 * pipe closes and the supervisor kills the group, so no script outlives its worker.
 */
async function runScript(
  ctx: HandlerContext,
  script: CatalogScript,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  spawned?: (pgid: number) => Promise<void>,
): Promise<ScriptRun> {
  const limit = ctx.options.outputLimitBytes;
  const subprocess = execa(
    process.execPath,
    [SUPERVISOR, String(KILL_GRACE_MS), script.command, ...script.args],
    {
      env,
      extendEnv: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      // The tail is kept as it comes (collector), not the whole output.
      buffer: false,
      detached: true,
      timeout: timeoutMs,
      cancelSignal: ctx.signal,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: KILL_GRACE_MS + 1000,
      reject: false,
    },
  );
  const out = collector(limit);
  const err = collector(limit);
  subprocess.stdout.on('data', out.push);
  subprocess.stderr.on('data', err.push);
  // Recorded with the run's mark (orphans.ts), so a re-run can end the group if its supervisor died.
  if (subprocess.pid !== undefined) await spawned?.(subprocess.pid).catch(() => {});
  const result = await subprocess;
  const group = subprocess.pid;
  if (result.isForcefullyTerminated && group !== undefined) {
    // The supervisor did not end its group in time and execa SIGKILLed it: end the rest here. A
    // process group id is not reused while any of its processes lives.
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
  if (result.cause !== undefined && result.exitCode === undefined && result.signal === undefined) {
    // Not even the supervisor started (no such Node binary, out of processes).
    throw result.cause;
  }
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: result.timedOut,
    durationMs: Math.round(result.durationMs),
    stdout: out.done(),
    stderr: err.done(),
  };
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
