import {
  claimDataLoss,
  type DataLossClaim,
  type PrimarySighting,
  zeroLossClaim,
} from '../../contract/index.ts';
import type { RecoveryPoint, RecoveryPointSelector, VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';
import { describe } from './shutdown.ts';
import { mayWrite, recordSighting } from './sighting.ts';
import { findVm, mustGetVm, mutation, requireVm, testVmName, unlessDoneMeanwhile } from './vm.ts';

/** Replica states in which Start-VMFailover already ran (the failover must not run twice). */
const FAILED_OVER = new Set(['FailedOverWaitingCompletion', 'FailedOver']);

/**
 * Failover at the target site, from the recovery point of the job:
 * - planned: the latest point, once zero loss is proven (`proveZeroLoss`, see ARCHITECTURE.md);
 * - unplanned: the point chosen at run time, else the plan's; the data-loss window is claimed from
 *   the point's time, the replica's last replication and what the engine saw of the old primary;
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
  let proof: ZeroLossProof | undefined;
  const repl = view.replication;
  if (repl === null) {
    throw new StepError('INVALID_STATE', `${ctx.step}: ${vm} at ${ctx.job.site} is not replicated`, where);
  }
  const lastReplicationTime = repl.lastReplicationTime;
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
    // A planned failover promises no data loss: proven before anything changes.
    if (ctx.job.type === 'planned') proof = await proveZeroLoss(ctx, vm);
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
  let dataLoss: DataLossClaim | undefined;
  if (point) {
    output.recoveryPoint = point;
    dataLoss =
      proof !== undefined && Date.parse(point.time) >= Date.parse(proof.shutdownAt)
        ? zeroLossClaim(vm, point, proof.basis)
        : await claimFor(ctx, vm, point, lastReplicationTime);
    output.dataLoss = dataLoss;
  }
  const outcome: HandlerOutcome = { outcome: 'done', mutated, output, view: network.view };
  return {
    ...outcome,
    ...(point ? { recoveryPoint: point } : {}),
    ...(dataLoss ? { dataLoss } : {}),
  };
}

/** The data-loss claim of an unplanned failover (or a repeat): from the engine's own sightings. */
export async function claimFor(
  ctx: HandlerContext,
  vm: string,
  point: RecoveryPoint,
  lastReplicationTime: string | undefined,
): Promise<DataLossClaim> {
  const source = ctx.job.fromSite;
  let primary: PrimarySighting = {};
  try {
    primary = (await ctx.sightings?.read(source, [vm]))?.get(vm) ?? {};
  } catch (error) {
    ctx.log.debug({ err: error }, 'sightings unreadable: the claim rests on the replica alone');
  }
  return claimDataLoss({
    vm,
    site: source,
    recoveryPoint: point.id,
    recoveryPointTime: point.time,
    ...(lastReplicationTime === undefined ? {} : { lastReplicationTime }),
    primary,
  });
}

interface ZeroLossProof {
  shutdownAt: string;
  basis: string;
}

/**
 * How a planned failover proves it loses nothing, from what Hyper-V reports (no ledger, no write
 * counts): (1) the primary at the source is Off and PreparedForFailover — Start-VMFailover
 * -Prepare succeeded, which Hyper-V allows only on a VM that is off, and which sends the pending
 * log; (2) Measure-VMReplication on the replica shows nothing pending; (3) when the engine
 * recorded the shutdown (its shutdown step, before -Prepare), the replica's last replication is at
 * or after it: the log that -Prepare sent has arrived. A primary prepared by other hands (no
 * record) rests on (1) and (2), and the basis says so. Any check failing refuses the failover
 * (PLANNED_FAILOVER_NOT_SYNCED) before anything changes.
 */
async function proveZeroLoss(ctx: HandlerContext, vm: string): Promise<ZeroLossProof> {
  const source = ctx.job.fromSite;
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const refuse = (why: string): StepError =>
    new StepError(
      'PLANNED_FAILOVER_NOT_SYNCED',
      `${ctx.step}: cannot prove that a planned failover of ${vm} loses nothing: ${why}; a planned failover needs the primary shut down and prepared (Start-VMFailover -Prepare) first — run its shutdown step, or use an unplanned failover`,
      where,
    );
  let primary: VmView;
  try {
    primary = await ctx.api.getVM(source, vm);
  } catch (error) {
    const code = simErrorCode(error) ?? 'ERROR';
    throw refuse(`its primary at ${source} cannot be read (${code})`);
  }
  if (primary.state !== 'Off' || primary.replication?.state !== 'PreparedForFailover') {
    throw refuse(`its primary at ${source} is not shut down and prepared (${describe(primary)})`);
  }
  const seen = (await ctx.sightings?.read(source, [vm]))?.get(vm);
  const off =
    seen?.off !== undefined &&
    (seen.runningAt === undefined || Date.parse(seen.off.at) >= Date.parse(seen.runningAt))
      ? seen.off
      : undefined;
  const measure = await ctx.api.measureVMReplication(ctx.job.site, vm);
  if (measure.pendingBytes > 0) {
    throw refuse(
      `Measure-VMReplication on the replica at ${ctx.job.site} shows ${measure.pendingBytes} bytes pending`,
    );
  }
  const last = measure.lastReplicationTime;
  if (off === undefined) {
    // The latest point is then the one -Prepare shipped (its time is its own, the check below is moot).
    return {
      shutdownAt: '1970-01-01T00:00:00.000Z',
      basis: `planned: ${vm} was found off and prepared at ${source} (the engine did not see it stop; Start-VMFailover -Prepare runs only on a VM that is off and sent the pending log); nothing is pending on the replica (Measure-VMReplication): no data loss`,
    };
  }
  if (last === undefined || Date.parse(last) < Date.parse(off.at)) {
    throw refuse(
      `the replica's last replication (${last ?? 'none'}) is before the primary's shutdown at ${off.at}: the final log has not arrived`,
    );
  }
  return {
    shutdownAt: off.at,
    basis: `planned: ${vm} shut down at ${source} at ${off.at} and prepared (Start-VMFailover -Prepare sent the pending log); the replica's last replication ${last} is at or after it and nothing is pending (Measure-VMReplication): no data loss`,
  };
}

/**
 * The last guard against split-brain (the fence step before it is best effort): an unplanned
 * failover does not start a replica while the old primary visibly runs at the source. A source
 * that does not answer (site or host down, no such VM) is what an unplanned failover is for, so it
 * proceeds. Refused as retryable: the fence job still queued at the source (its agent was away past
 * the fencing deadline) may fence it in the meantime. What it reads is a sighting (off) for the
 * data-loss claim.
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
  if (!mayWrite(old)) {
    await recordSighting(ctx, source, vm, 'read');
    return;
  }
  await recordSighting(ctx, source, vm, 'running');
  throw new StepError(
    'SOURCE_STILL_RUNNING',
    `${ctx.step}: ${vm} still runs as the primary at ${source} (${describe(old)}) and was not fenced; failing over now would run it in two sites. Start ${source}'s workers so its queued fence step runs, or shut ${vm} down at ${source}, then retry`,
    { step: ctx.step, site: ctx.job.site, vm },
    { retryable: true },
  );
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
  // The host's time of the test failover: a real failover then would have lost the writes after
  // the point's time up to it (the drill's data-loss window in its report, engine/report).
  const hostTime = await ctx.api.now();
  const output: Record<string, unknown> = {
    testVm: testVm.name,
    network: testVm.network,
    created: true,
    hostTime,
  };
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
