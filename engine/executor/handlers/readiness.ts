import { assertNever } from '../../common/index.ts';
import type { Readiness, ReadinessCheck } from '../../plan/types.ts';
import { bootHandler } from './boot.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { mustGetVm, mutation, requireVm, siteVmName, sleep } from './vm.ts';

/** Polls start quick and slow down to 1 s: a VM that takes minutes is not asked 20 times a second. */
const MAX_POLL_MS = 1000;
/** Longest heartbeat wait (simulated ms) used to wake a polling check. */
const HEARTBEAT_WAKE_MS = 30_000;

function slower(pause: number): number {
  return Math.min(Math.ceil(pause * 1.5), MAX_POLL_MS);
}

/** What one check did: passed, or ran out of time. */
interface CheckReport {
  kind: ReadinessCheck['kind'] | 'running';
  ok: boolean;
  waitedMs: number;
  detail?: string;
}

/**
 * The time left of one readiness wait, for checks that poll. Time is the simulator's (a scaled
 * world runs a 10-minute timeout in seconds); a real-time guard of the same length stops the wait
 * in a world whose clock only moves when a test advances it.
 */
class Deadline {
  private constructor(
    private readonly ctx: HandlerContext,
    private readonly simStart: number,
    private readonly realStart: number,
    private readonly leftMs: number,
  ) {}

  /** A deadline `leftMs` from now. */
  static async start(ctx: HandlerContext, leftMs: number): Promise<Deadline> {
    return new Deadline(ctx, Date.parse(await ctx.api.now()), Date.now(), leftMs);
  }

  /** Simulated ms since the start (at least the real ms, when the simulated clock stands still). */
  async elapsed(): Promise<number> {
    const sim = Date.parse(await this.ctx.api.now()) - this.simStart;
    return Math.max(sim, Date.now() - this.realStart);
  }

  async remaining(): Promise<number> {
    return Math.max(0, this.leftMs - (await this.elapsed()));
  }
}

/**
 * Readiness at the target: every check of the VM's readiness must pass (guest heartbeat, TCP or
 * HTTP probes from the VM's network, a fixed delay) within the timeout; no checks means "running
 * is ready". On timeout the step fails, or is `warned` when the plan says onTimeout: warn. The
 * first attempt reads only (repeating it is harmless); a retry first redoes the boot the wait
 * needs (redoBoot).
 */
export async function readinessHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = siteVmName(ctx, requireVm(ctx));
  const readiness = ctx.job.readiness ?? { checks: [], timeoutMs: 600_000, onTimeout: 'fail' as const };
  const redone = ctx.job.attempt > 1 ? await redoBoot(ctx, vm, readiness) : undefined;
  const outcome = await waitReady(ctx, vm, readiness);
  if (redone === undefined) return outcome;
  return { ...outcome, mutated: true, output: { ...outcome.output, redone } };
}

/**
 * What a retry of a readiness wait does before it waits again: the part of the VM's start that
 * failed (bug: a retry only waited again, which can never succeed for a guest that hung). A VM
 * that runs while its guest never answered (the plan waits for its heartbeat) is restarted:
 * Stop-VM -TurnOff, then Start-VM (with the boot step's handling of the host's boot limit). A VM
 * found Off is started. Anything else (still starting, guest answering) is only waited for again.
 */
async function redoBoot(
  ctx: HandlerContext,
  vm: string,
  readiness: Readiness,
): Promise<{ action: 'restarted' | 'started'; reason: string } | undefined> {
  const view = await mustGetVm(ctx, vm);
  if (view.state === 'Off') {
    await bootHandler({ ...ctx, known: view });
    ctx.log.warn({ vm }, 'readiness retry: the VM was off; started it');
    return { action: 'started', reason: `${vm} was Off at the retry` };
  }
  const waitsForGuest = readiness.checks.some((check) => check.kind === 'heartbeat');
  if (view.state !== 'Running' || view.heartbeat === 'Ok' || !waitsForGuest) return undefined;
  const off = await ctx.api.stopVM({ ...mutation(ctx, vm), turnOff: true });
  await bootHandler({ ...ctx, known: off });
  ctx.log.warn({ vm }, 'readiness retry: the guest never answered; restarted the VM');
  return {
    action: 'restarted',
    reason: `${vm} was Running but its guest had not answered (heartbeat ${view.heartbeat}): turned off and started again`,
  };
}

/** Run the readiness checks in order within the timeout. */
async function waitReady(ctx: HandlerContext, vm: string, readiness: Readiness): Promise<HandlerOutcome> {
  const reports: CheckReport[] = [];
  let spent = 0;
  const checks: (ReadinessCheck | { kind: 'running' })[] =
    readiness.checks.length === 0 ? [{ kind: 'running' }] : readiness.checks;
  for (const check of checks) {
    const report = await runCheck(ctx, vm, check, Math.max(0, readiness.timeoutMs - spent));
    spent += report.waitedMs;
    reports.push(report);
    if (!report.ok) break;
  }
  const output = { checks: reports, waitedMs: spent };
  const failed = reports.find((r) => !r.ok);
  if (failed === undefined) return { outcome: 'done', mutated: false, output };
  const message = `${ctx.step}: ${vm} at ${ctx.job.site} was not ready within ${readiness.timeoutMs} ms (${failed.kind} check${failed.detail ? `: ${failed.detail}` : ''}); check the guest, or raise readiness.timeout in the plan`;
  if (readiness.onTimeout === 'warn') {
    return {
      outcome: 'warned',
      mutated: false,
      output,
      error: { code: 'READINESS_TIMEOUT', message, retryable: false },
    };
  }
  throw new StepError(
    'READINESS_TIMEOUT',
    message,
    { step: ctx.step, site: ctx.job.site, vm },
    {
      details: { checks: reports },
    },
  );
}

async function runCheck(
  ctx: HandlerContext,
  vm: string,
  check: ReadinessCheck | { kind: 'running' },
  leftMs: number,
): Promise<CheckReport> {
  if (check.kind === 'heartbeat') {
    // The simulator waits in its own time: no polling, one call.
    const result = await ctx.api.waitForHeartbeat(ctx.job.site, vm, leftMs);
    return result.ok
      ? { kind: 'heartbeat', ok: true, waitedMs: result.waitedMs }
      : { kind: 'heartbeat', ok: false, waitedMs: result.waitedMs, detail: 'no guest heartbeat' };
  }
  const deadline = await Deadline.start(ctx, leftMs);
  let report: CheckReport;
  switch (check.kind) {
    case 'running':
      report = await waitRunning(ctx, vm, deadline);
      break;
    case 'tcp':
    case 'http':
      report = await pollProbe(ctx, vm, check, deadline);
      break;
    case 'delay':
      report = await simulatedDelay(check.ms, deadline, ctx);
      break;
    default:
      return assertNever(check, 'readiness check');
  }
  report.waitedMs = await deadline.elapsed();
  return report;
}

async function pollProbe(
  ctx: HandlerContext,
  vm: string,
  check: Extract<ReadinessCheck, { kind: 'tcp' | 'http' }>,
  deadline: Deadline,
): Promise<CheckReport> {
  const probe =
    check.kind === 'tcp'
      ? { kind: 'tcp' as const, port: check.port }
      : { kind: 'http' as const, port: check.port, path: check.path };
  return await poll(ctx, vm, deadline, check.kind, async () => {
    const result = await ctx.api.probe(ctx.job.site, vm, probe);
    const ok = check.kind === 'tcp' ? result.ok : result.ok && result.status === check.expectStatus;
    if (ok) return undefined;
    return check.kind === 'tcp'
      ? `port ${check.port} closed`
      : `GET :${check.port}${check.path} answered ${result.status ?? 'nothing'}, expected ${check.expectStatus}`;
  });
}

/**
 * Ask `attempt` (undefined: passed, else why not) until it passes or time runs out. Polls slow
 * down to 1 s, but the guest's heartbeat, which the host reports the moment it comes, wakes the
 * loop at once: services answer once the guest is up, and a scaled-time world is not kept waiting
 * a whole poll interval (many simulated seconds) for nothing.
 */
async function poll(
  ctx: HandlerContext,
  vm: string,
  deadline: Deadline,
  kind: CheckReport['kind'],
  attempt: () => Promise<string | undefined>,
): Promise<CheckReport> {
  let pause = ctx.options.probeIntervalMs;
  // A bounded heartbeat wait, armed again when it ends without one: a wait that outlives the check
  // (a guest that answers without a heartbeat) holds a connection to the host for 30 s at most.
  const armHeartbeat = async (): Promise<'up' | 'timeout' | 'error'> => {
    const ms = Math.min(await deadline.remaining(), HEARTBEAT_WAKE_MS);
    return await ctx.api.waitForHeartbeat(ctx.job.site, vm, ms).then(
      (r) => (r.ok ? 'up' : 'timeout'),
      () => 'error',
    );
  };
  let heartbeat: Promise<'up' | 'timeout' | 'error'> | undefined = armHeartbeat();
  for (;;) {
    const why = await attempt();
    if (why === undefined) return { kind, ok: true, waitedMs: 0 };
    if ((await deadline.remaining()) <= 0) return { kind, ok: false, waitedMs: 0, detail: why };
    const slept = sleep(pause, ctx.signal).then(() => 'slept' as const);
    pause = slower(pause);
    for (;;) {
      const woke = await Promise.race(heartbeat === undefined ? [slept] : [slept, heartbeat]);
      if (woke === 'up') {
        // The guest is up: look again at once, then quickly.
        heartbeat = undefined;
        pause = ctx.options.probeIntervalMs;
        break;
      }
      if (woke === 'timeout') {
        heartbeat = armHeartbeat();
        continue;
      }
      if (woke === 'error') heartbeat = undefined;
      await slept;
      break;
    }
  }
}

/** A fixed pause, in simulated time; it passes even when it reaches the end of the timeout. */
async function simulatedDelay(ms: number, deadline: Deadline, ctx: HandlerContext): Promise<CheckReport> {
  for (;;) {
    const waited = await deadline.elapsed();
    if (waited >= ms) return { kind: 'delay', ok: true, waitedMs: waited };
    if ((await deadline.remaining()) <= 0) {
      return { kind: 'delay', ok: false, waitedMs: waited, detail: `delay of ${ms} ms outlasts the timeout` };
    }
    await sleep(Math.min(ms - waited, ctx.options.probeIntervalMs), ctx.signal);
  }
}

/** No checks: the VM is ready once it runs. */
async function waitRunning(ctx: HandlerContext, vm: string, deadline: Deadline): Promise<CheckReport> {
  return await poll(ctx, vm, deadline, 'running', async () => {
    const view = await mustGetVm(ctx, vm);
    return view.state === 'Running' ? undefined : `power state ${view.state}`;
  });
}
