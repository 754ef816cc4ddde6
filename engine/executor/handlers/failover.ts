import type { RecoveryPoint, RecoveryPointSelector, ReplicationMeasure, VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { describe } from './shutdown.ts';
import { findVm, mustGetVm, mutation, requireVm, testVmName, unlessDoneMeanwhile } from './vm.ts';

/** Replica states in which Start-VMFailover already ran (the failover must not run twice). */
const FAILED_OVER = new Set(['FailedOverWaitingCompletion', 'FailedOver']);

/**
 * Failover at the target site, from the recovery point of the job:
 * - planned: the latest point (the prepared primary sent every write: no data loss);
 * - unplanned: the point chosen at run time, else the plan's; the data-loss window is reported;
 * - test: Start-VMFailover -AsTest creates `<vm> - Test` on the (isolated) test network, leaving the
 *   replica, its replication and the primary untouched.
 * Then the failed-over VM is attached to its mapped network / IP. Each call is skipped when the
 * state read first shows it already happened.
 */
export async function failoverHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  return ctx.job.type === 'test' ? await testFailover(ctx) : await realFailover(ctx);
}

function selector(ctx: HandlerContext): RecoveryPointSelector {
  if (ctx.job.type === 'planned') return { kind: 'latest' };
  return ctx.job.recoveryPoint ?? { kind: 'latest' };
}

async function realFailover(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  let view = await mustGetVm(ctx, vm);
  let mutated = false;
  let point: RecoveryPoint | undefined = view.recoveryPoint;
  let measure: (ReplicationMeasure & { at?: string }) | undefined;
  const repl = view.replication;
  if (repl === null) {
    throw new StepError('INVALID_STATE', `${ctx.step}: ${vm} at ${ctx.job.site} is not replicated`, where);
  }
  if (!FAILED_OVER.has(repl.state)) {
    if (repl.mode !== 'Replica' && repl.mode !== 'ExtendedReplica') {
      throw new StepError(
        'INVALID_STATE',
        `${ctx.step}: ${vm} at ${ctx.job.site} is not a replica (${describe(view)}); nothing to fail over to`,
        where,
      );
    }
    // (A superseded execution is refused by the host with STALE_EPOCH below, not by the guard.)
    if (ctx.job.type === 'unplanned' && view.epoch <= ctx.job.epoch) await refuseWhileSourceRuns(ctx, vm);
    measure = await measureQuietly(ctx, vm);
    if (ctx.job.type === 'planned' && measure && measure.receivedSeq < measure.primarySeq) {
      // A planned failover promises no data loss: the prepared primary must have sent everything.
      throw new StepError(
        'PLANNED_FAILOVER_NOT_SYNCED',
        `${ctx.step}: the replica of ${vm} at ${ctx.job.site} lacks ${measure.primarySeq - measure.receivedSeq} writes of its primary; a planned failover needs the primary shut down and prepared (Start-VMFailover -Prepare) first — run its shutdown step, or use an unplanned failover`,
        where,
      );
    }
    const failover = await unlessDoneMeanwhile(
      () => ctx.api.startVMFailover({ ...mutation(ctx, vm), mode: 'failover', recoveryPoint: selector(ctx) }),
      () => mustGetVm(ctx, vm),
      (now) => FAILED_OVER.has(now.replication?.state ?? 'Disabled'),
    );
    if ('result' in failover) {
      view = failover.result.vm;
      point = failover.result.recoveryPoint ?? point;
    } else {
      view = failover.meanwhile;
      point = view.recoveryPoint ?? point;
    }
    mutated = true;
  }
  const network = await connectNetwork(ctx, vm, view);
  const failedOver = mutated;
  mutated ||= network.mutated;
  const output: Record<string, unknown> = { failedOver, network: network.view.network };
  if (point) {
    output.recoveryPoint = point;
    if (measure) {
      // The data-loss window in the simulator's numbers: the writes the primary acknowledged after
      // the chosen point (by sequence number), and the point's age at the failover (an upper bound
      // in time: a primary that died earlier stopped writing then).
      const lost = Math.max(0, measure.primarySeq - point.seq);
      output.lostWrites = lost;
      output.lostSeqRange = lost > 0 ? [point.seq + 1, measure.primarySeq] : null;
      if (measure.at !== undefined) {
        output.recoveryPointAgeMs = Math.max(0, Date.parse(measure.at) - Date.parse(point.time));
      }
    }
  }
  const outcome: HandlerOutcome = { outcome: 'done', mutated, output, view: network.view };
  return point ? { ...outcome, recoveryPoint: point } : outcome;
}

/**
 * The last guard against split-brain (the fence step before it is best effort): an unplanned
 * failover does not start a replica while the old primary visibly runs at the source. A source
 * that does not answer (site or host down, no such VM) is what an unplanned failover is for, so it
 * proceeds. Refused as retryable: the fence job still queued at the source (its agent was away past
 * the fencing deadline) may fence it in the meantime.
 */
async function refuseWhileSourceRuns(ctx: HandlerContext, vm: string): Promise<void> {
  const source = ctx.job.fromSite;
  let old: VmView;
  try {
    old = await ctx.api.getVM(source, vm);
  } catch (error) {
    ctx.log.debug({ err: error, source }, 'source not readable: failing over without it');
    return;
  }
  const mode = old.replication?.mode ?? 'None';
  if (old.isTest || (mode !== 'Primary' && mode !== 'None')) return;
  if (old.state !== 'Running' && old.state !== 'Starting') return;
  throw new StepError(
    'SOURCE_STILL_RUNNING',
    `${ctx.step}: ${vm} still runs as the primary at ${source} (${describe(old)}) and was not fenced; failing over now would run it in two sites. Start ${source}'s workers so its queued fence step runs, or shut ${vm} down at ${source}, then retry`,
    { step: ctx.step, site: ctx.job.site, vm },
    { retryable: true },
  );
}

/**
 * Measure-VMReplication and the host's time, just before the failover, for the data-loss figures
 * (unplanned only: a planned failover sent every write). Absent when unreadable.
 */
async function measureQuietly(
  ctx: HandlerContext,
  vm: string,
): Promise<(ReplicationMeasure & { at?: string }) | undefined> {
  if (ctx.job.type !== 'unplanned' && ctx.job.type !== 'planned') return undefined;
  try {
    if (ctx.job.type === 'planned') return await ctx.api.measureVMReplication(ctx.job.site, vm);
    const [measure, at] = await Promise.all([ctx.api.measureVMReplication(ctx.job.site, vm), ctx.api.now()]);
    return { ...measure, at };
  } catch (error) {
    ctx.log.debug({ err: error }, 'replication measure unavailable');
    return undefined;
  }
}

async function connectNetwork(
  ctx: HandlerContext,
  vm: string,
  view: VmView,
): Promise<{ mutated: boolean; view: VmView }> {
  const binding = ctx.job.network;
  // The plan's network mapping names the target site's networks. A failback returns the VM to its
  // home site, to the network it had there (pre-flight checks no mapping for a failback either).
  if (binding === undefined || ctx.job.direction === 'failback') return { mutated: false, view };
  const current = view.network;
  if (current !== null && current.network === binding.network && current.ip === binding.ip) {
    return { mutated: false, view };
  }
  return { mutated: true, view: await ctx.api.connectVMNetwork({ ...mutation(ctx, vm), ...binding }) };
}

async function testFailover(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const testName = testVmName(vm);
  const existing = await findVm(ctx, testName);
  if (existing !== undefined) {
    const output: Record<string, unknown> = { testVm: testName, network: existing.network, created: false };
    const outcome: HandlerOutcome = { outcome: 'done', mutated: false, output, view: existing };
    if (existing.recoveryPoint === undefined) return outcome;
    output.recoveryPoint = existing.recoveryPoint;
    return { ...outcome, recoveryPoint: existing.recoveryPoint };
  }
  const replica = await mustGetVm(ctx, vm);
  if (replica.replication === null || replica.replication.mode === 'Primary') {
    throw new StepError(
      'INVALID_STATE',
      `${ctx.step}: ${vm} at ${ctx.job.site} is not a replica (${describe(replica)}); a test failover runs on the replica`,
      where,
    );
  }
  const testNetwork = ctx.job.network;
  if (testNetwork !== undefined) await assertIsolated(ctx, testNetwork.network, vm);
  const created = await unlessDoneMeanwhile(
    () =>
      ctx.api.startVMFailover({
        ...mutation(ctx, vm),
        mode: 'test',
        recoveryPoint: selector(ctx),
        ...(testNetwork ? { testNetwork } : {}),
      }),
    () => findVm(ctx, testName),
    (now) => now !== undefined,
  );
  const testVm = 'result' in created ? created.result.vm : created.meanwhile;
  if (testVm === undefined)
    throw new StepError('VM_NOT_FOUND', `${ctx.step}: test VM ${testName} vanished`, where);
  const point = ('result' in created ? created.result.recoveryPoint : undefined) ?? testVm.recoveryPoint;
  const output: Record<string, unknown> = { testVm: testVm.name, network: testVm.network, created: true };
  const outcome: HandlerOutcome = { outcome: 'done', mutated: true, output, view: testVm };
  if (point === undefined) return outcome;
  output.recoveryPoint = point;
  return { ...outcome, recoveryPoint: point };
}

/** A drill never reaches production: its test network must exist and be isolated. */
async function assertIsolated(ctx: HandlerContext, network: string, vm: string): Promise<void> {
  const networks = await ctx.api.listNetworks(ctx.job.site);
  const found = networks.find((n) => n.name === network);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  if (found === undefined) {
    throw new StepError(
      'NETWORK_NOT_FOUND',
      `${ctx.step}: test network "${network}" does not exist at ${ctx.job.site}; create it or fix network.test of ${vm} in the plan`,
      where,
    );
  }
  if (!found.isolated) {
    throw new StepError(
      'TEST_NETWORK_NOT_ISOLATED',
      `${ctx.step}: test network "${network}" at ${ctx.job.site} is not isolated; a drill must not reach production — use an isolated network for network.test of ${vm}`,
      where,
    );
  }
}
