/**
 * What happens once a site is lost (issue 13, the control side): the monitor leader's site machine
 * reached `lost` (its lease expired, the witness agreed, the margin passed), and for each plan whose
 * source is that site this decides (decide.ts), opens the veto window, and submits an unplanned
 * failover under the system actor, marked automatic, with the evidence in its events and in the
 * audit log. `drill` declares a site lost on purpose and runs a test failover down the same path.
 *
 * Before the submission: the data-loss window is read from the inventory (the replica's chosen
 * point against the loss, on the hosts' clock); Redis must be able to keep the submission
 * (durability.ts); and the epoch counter is raised above every epoch a host reports, so that even a
 * Redis that lost its last second of writes never hands out an epoch a host has already accepted.
 */
import type { Redis } from 'ioredis';
import { createRedisExecutionClient, measureRecoveryPointGap } from '../../client/index.ts';
import type { Logger } from '../../common/index.ts';
import { DrError } from '../../common/index.ts';
import type { AutomaticEvidence } from '../../contract/index.ts';
import { globalKeys, loadExecution } from '../../executor/index.ts';
import type { SiteMonitorSnapshot } from '../../machines/index.ts';
import { compilePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { type HyperVReadApi, PreflightBlockedError } from '../../preflight/index.ts';
import { type AuditLog, SYSTEM_ACTOR } from '../audit/index.ts';
import { autoFailoverNotification, type NotificationEvent } from '../notify/index.ts';
import { createPlanReader, latestPlanVersion, listPlans } from '../plans/store.ts';
import { type ArmingStore, createArmingStore, type DecisionRecord } from './arming.ts';
import { decideAutoFailover } from './decide.ts';
import { assertDurable, durableWait } from './durability.ts';
import { guardReport, guardVerdict } from './guards.ts';
import { autoKeys } from './keys.ts';

/** A site the monitor leader declared lost (or the drill declares lost), on its monotonic clock. */
export interface SiteLoss {
  site: string;
  snapshot: SiteMonitorSnapshot;
  /** The monitor's clock now (ms), to turn its times into wall times for the evidence. */
  now: number;
}

export interface AutomationOptions {
  redis: Redis;
  redisUrl: string;
  prefix: string;
  log: Logger;
  audit: AuditLog;
  notify?: (event: NotificationEvent) => Promise<unknown>;
  /** The sites' hosts as the vault knows them (ControlContext.inventory). */
  inventory?: HyperVReadApi;
  /** The monitor's part: told when a failover of a site started and ended. */
  onStarted?: (site: string, execution: string) => void;
  onEnded?: (site: string) => void;
  /** How often a started execution is looked at until it ends. @defaultValue 500 */
  followEveryMs?: number;
}

export interface PlanOutcome {
  plan: string;
  decision: DecisionRecord['state'] | 'ignored';
  reason?: string;
  execution?: string;
}

export interface Automation {
  readonly store: ArmingStore;
  /** The monitor leader's site machine reached `lost`: act for every plan of that site. */
  onSiteLost(loss: SiteLoss): Promise<PlanOutcome[]>;
  /** The lost site renews its lease again: offer reprotect, never start it. */
  onSiteReturned(site: string): Promise<void>;
  /**
   * The automation's drill: the plan's source declared lost on purpose (with the renewals the
   * monitor saw, if it leads here), a test failover down the same path. Resolves once decided
   * (after the veto window).
   */
  drill(plan: string, by: string): Promise<PlanOutcome>;
  /** The site monitor whose renewals a drill's evidence shows. */
  useMonitor(monitor: { snapshots(): ReadonlyMap<string, SiteMonitorSnapshot>; now(): number }): void;
  close(): Promise<void>;
}

const FINAL = new Set([
  'completed',
  'failed',
  'cancelled',
  'awaiting-cleanup',
  'cleaned-up',
  'committed',
  'reprotected',
]);

/** Raise the epoch counter to at least `floor`. KEYS: epoch. ARGV: floor. */
const RAISE_EPOCH = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > current then redis.call('SET', KEYS[1], ARGV[1]) return floor end
return current`;

/** The loss a drill declares: the monitor's view of the site, with a witness that says so. */
function drillLoss(
  site: string,
  monitor: { snapshots(): ReadonlyMap<string, SiteMonitorSnapshot>; now(): number } | undefined,
): SiteLoss {
  const now = monitor?.now() ?? performance.now();
  const seen = monitor?.snapshots().get(site);
  const context = seen?.context ?? {
    site,
    config: { leaseMs: 1, suspectAfterMs: 1, marginMs: 1, witnessEveryMs: 1 },
    watchingSince: now,
    counters: {},
    history: [],
  };
  return {
    site,
    now,
    snapshot: {
      state: 'lost',
      context: {
        ...context,
        lostAt: now,
        witness: {
          verdict: 'unreachable',
          by: 'peer',
          detail: 'drill of the automation: declared lost on purpose (no probe was made)',
          at: now,
        },
      },
    },
  };
}

export function createAutomation(options: AutomationOptions): Automation {
  const { redis, prefix, log } = options;
  const store = createArmingStore(redis, prefix);
  const readPlan = createPlanReader(redis, prefix);
  const client = createRedisExecutionClient({
    redisUrl: options.redisUrl,
    prefix,
    compile: compilePlan,
    ...(options.inventory === undefined ? {} : { inventory: options.inventory }),
  });
  let monitor: Parameters<Automation['useMonitor']>[0] | undefined;
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  const notify = (event: NotificationEvent): void => {
    void options
      .notify?.(event)
      .catch((error: unknown) => log.warn({ err: error }, 'notification not raised'));
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.set(timer, resolve);
    });

  const evidenceOf = (loss: SiteLoss, drill: boolean): AutomaticEvidence => {
    const wall = (t: number) => new Date(Date.now() - (loss.now - t)).toISOString();
    const { context } = loss.snapshot;
    const renewals = context.history.map((r) => ({
      at: wall(r.at),
      incarnation: r.incarnation,
      counter: r.counter,
      via: r.via,
    }));
    return {
      site: loss.site,
      drill,
      lostAt: wall(context.lostAt ?? loss.now),
      ...(context.last === undefined ? {} : { lastRenewalAt: wall(context.last.at) }),
      renewals,
      ...(context.witness === undefined
        ? {}
        : {
            witness: {
              verdict: context.witness.verdict,
              by: context.witness.by,
              detail: context.witness.detail,
              at: wall(context.witness.at),
            },
          }),
      fencedByLease: !drill,
    };
  };

  /** The widest data-loss window over the plan's VMs, on the hosts' clock; undefined: unknown. */
  const dataLossWindow = async (plan: RecoveryPlan, loss: SiteLoss): Promise<number | undefined> => {
    if (options.inventory === undefined) return undefined;
    const gap = await measureRecoveryPointGap(
      options.inventory,
      plan,
      'forward',
      plan.automaticFailover.recoveryPoint,
    );
    if (gap.vms.some((vm) => vm.time === undefined) || gap.oldest === undefined) return undefined;
    const hostsNow = Date.parse(await options.inventory.now());
    const last = loss.snapshot.context.last?.at ?? loss.snapshot.context.watchingSince;
    const lostAt = hostsNow - (loss.now - last);
    return Math.max(0, lostAt - Date.parse(gap.oldest));
  };

  /** Every epoch a host of the plan reports, and the counter raised above the highest. */
  const raiseEpoch = async (plan: RecoveryPlan): Promise<number> => {
    let highest = 0;
    for (const site of [plan.source, plan.target]) {
      const vms = await options.inventory?.listVMs(site).catch(() => []);
      for (const vm of vms ?? []) highest = Math.max(highest, vm.epoch);
    }
    return Number(await redis.eval(RAISE_EPOCH, 1, globalKeys(prefix).epoch, String(highest)));
  };

  const record = async (decision: DecisionRecord, detail: Record<string, unknown>, execution?: string) => {
    await options.audit.append({
      actor: SYSTEM_ACTOR,
      action: `automatic-failover:${decision.state}`,
      plan: decision.plan,
      ...(execution === undefined ? {} : { execution }),
      outcome: decision.state === 'refused' ? 'refused' : 'accepted',
      detail: JSON.stringify(detail),
    });
  };

  const follow = async (decision: DecisionRecord, execution: string): Promise<void> => {
    const every = options.followEveryMs ?? 500;
    while (!closed) {
      await sleep(every);
      if (closed) return;
      const found = await loadExecution(redis, prefix, execution).catch(() => undefined);
      const status = found?.record.status;
      if (status === undefined || !FINAL.has(status)) continue;
      const finished = {
        ...decision,
        state: 'finished' as const,
        finished: { status, at: new Date().toISOString() },
      };
      const latest = await store.decision(decision.plan, decision.drill);
      if (latest?.id === decision.id) await store.putDecision(finished);
      if (!decision.drill) {
        const kept = await store.failover(decision.plan);
        await store.putFailover({ ...finished, ...(kept?.returned ? { returned: kept.returned } : {}) });
      }
      notify(
        autoFailoverNotification({
          plan: decision.plan,
          stage: 'finished',
          occurrence: execution,
          site: decision.site,
          execution,
          reason: status,
        }),
      );
      await record(finished, { status }, execution);
      if (!decision.drill) options.onEnded?.(decision.site);
      return;
    }
  };

  const refuse = async (decision: DecisionRecord, code: string, reason: string): Promise<PlanOutcome> => {
    const refused: DecisionRecord = { ...decision, state: 'refused', reason };
    await store.putDecision(refused);
    notify(
      autoFailoverNotification({
        plan: decision.plan,
        stage: 'refused',
        occurrence: decision.id,
        site: decision.site,
        reason,
        details: { code },
      }),
    );
    await record(refused, { code, reason });
    log.warn({ plan: decision.plan, site: decision.site, code }, `automatic failover refused: ${reason}`);
    return { plan: decision.plan, decision: 'refused', reason };
  };

  /** One plan: decide, open the veto window, decide again, submit. */
  const runPlan = async (name: string, loss: SiteLoss, drill: boolean, by: string): Promise<PlanOutcome> => {
    const version = await latestPlanVersion(redis, prefix, name);
    const plan = await readPlan(name, version.hash);
    const policy = plan.automaticFailover;
    const evidence = evidenceOf(loss, drill);
    // The guard report is judged against the last renewal (as `after` is counted: the start of the
    // watch when none was seen), in wall time taken once here, not at a later decision.
    const guardReferenceAt =
      Date.now() - (loss.now - (loss.snapshot.context.last?.at ?? loss.snapshot.context.watchingSince));
    const id = `${loss.site}/${evidence.lastRenewalAt ?? evidence.lostAt}${drill ? '/drill' : ''}`;
    const decide = async () => {
      const arm = (await store.arms()).get(name);
      const maintenance = await store.maintenance(plan.source);
      const window = await dataLossWindow(plan, loss).catch(() => undefined);
      const { context } = loss.snapshot;
      const guard = drill
        ? undefined
        : guardVerdict(
            await guardReport(redis, prefix, plan.source),
            plan.vms.map((vm) => vm.name),
            guardReferenceAt,
            context.config.leaseMs,
          );
      return {
        arm,
        window,
        decision: decideAutoFailover({
          policy,
          hash: version.hash,
          drill,
          ...(arm === undefined ? {} : { arm }),
          ...(maintenance === undefined ? {} : { maintenance }),
          ...(window === undefined ? {} : { dataLossWindowMs: window }),
          ...(guard === undefined ? {} : { guard }),
        }),
      };
    };
    const first = await decide();
    if (first.decision.kind === 'ignore')
      return { plan: name, decision: 'ignored', reason: first.decision.why };
    const previous = await store.decision(name, drill);
    if (previous?.id === id && previous.state !== 'veto-window')
      return {
        plan: name,
        decision: previous.state,
        ...(previous.execution ? { execution: previous.execution } : {}),
      };
    const openedAt = new Date().toISOString();
    const base: DecisionRecord = { id, plan: name, site: loss.site, drill, openedAt, state: 'veto-window' };
    const full = {
      ...evidence,
      ...(first.window === undefined ? {} : { dataLossWindowMs: first.window }),
      ...(policy.maxDataLossMs === undefined ? {} : { maxDataLossMs: policy.maxDataLossMs }),
    };
    if (first.decision.kind === 'notify') {
      const notified: DecisionRecord = { ...base, state: 'notified', reason: first.decision.why };
      await store.putDecision(notified);
      notify(
        autoFailoverNotification({
          plan: name,
          stage: 'refused',
          occurrence: id,
          site: loss.site,
          reason: `site ${loss.site} lost; nothing started: ${first.decision.why}`,
          details: { notifyOnly: true, evidence: full },
        }),
      );
      await record(notified, { why: first.decision.why, evidence: full });
      return { plan: name, decision: 'notified', reason: first.decision.why };
    }
    if (first.decision.kind === 'refuse')
      return await refuse(base, first.decision.code, first.decision.reason);

    // The veto window, and `after` counted from the last renewal: the later of the two.
    const lastRenewal = loss.snapshot.context.last?.at ?? loss.snapshot.context.watchingSince;
    // A drill's site is alive (its renewals go on): only the veto window is waited for.
    const waitMs = drill
      ? policy.vetoMs
      : Math.max(policy.vetoMs, lastRenewal + policy.afterMs - loss.now, 0);
    const windowed: DecisionRecord = {
      ...(previous?.id === id ? previous : base),
      submitAt:
        previous?.id === id && previous.submitAt
          ? previous.submitAt
          : new Date(Date.now() + waitMs).toISOString(),
    };
    await store.putDecision(windowed);
    if (previous?.id !== id) await record(windowed, { waitMs, evidence: full });
    await sleep(Math.max(0, Date.parse(windowed.submitAt ?? openedAt) - Date.now()));
    if (closed) return { plan: name, decision: 'veto-window' };
    const after = await store.decision(name, drill);
    if (after?.state === 'vetoed') {
      await record(after, { vetoedBy: after.vetoedBy, reason: after.reason });
      return { plan: name, decision: 'vetoed', ...(after.reason ? { reason: after.reason } : {}) };
    }
    // Heard from again during the window (the machine went back online): it was not lost after all.
    const state = monitor?.snapshots().get(loss.site)?.state;
    // (failingOver / failedOver: another plan of the site started first; still not heard from.)
    if (!drill && state !== 'lost' && state !== 'failingOver' && state !== 'failedOver')
      return await refuse(
        windowed,
        'SITE_NOT_LOST',
        `site ${loss.site} is no longer lost on the monitor leader here (${state ?? 'not watched'}): nothing was started`,
      );
    // Disarmed, put in maintenance or spent during the window: decided again.
    const second = await decide();
    if (second.decision.kind === 'ignore' || second.decision.kind === 'notify') {
      const why = second.decision.kind === 'ignore' ? second.decision.why : second.decision.why;
      return await refuse(windowed, 'CHANGED_DURING_VETO_WINDOW', `during the veto window: ${why}`);
    }
    if (second.decision.kind === 'refuse')
      return await refuse(windowed, second.decision.code, second.decision.reason);

    let durability: Awaited<ReturnType<typeof assertDurable>>;
    try {
      durability = await assertDurable(redis);
    } catch (error) {
      return await refuse(windowed, 'REDIS_NOT_DURABLE', (error as Error).message);
    }
    const arm = second.arm;
    if (!drill && (arm === undefined || !(await store.spend(arm, `claimed:${id}`))))
      return await refuse(windowed, 'ARM_SPENT', 'the arming was spent or replaced meanwhile');
    const epochFloor = await raiseEpoch(plan);
    const evidenceFinal: AutomaticEvidence = {
      ...evidence,
      ...(second.window === undefined ? {} : { dataLossWindowMs: second.window }),
      ...(policy.maxDataLossMs === undefined ? {} : { maxDataLossMs: policy.maxDataLossMs }),
    };
    let submitted: Awaited<ReturnType<typeof client.submit>>;
    try {
      submitted = await client.submit({
        plan,
        hash: version.hash,
        type: drill ? 'test' : 'unplanned',
        direction: 'forward',
        by,
        reason: drill
          ? `drill of the automation: site ${loss.site} declared lost on purpose`
          : `automatic failover: site ${loss.site} lost (lease expired, witness agreed)`,
        recoveryPoint: policy.recoveryPoint,
        automatic: evidenceFinal,
        makeDurable: durableWait(redis, durability, {
          key: `${autoKeys(prefix).pending}:durable`,
          value: id,
        }),
      });
    } catch (error) {
      if (!drill && arm !== undefined) await store.unspend(arm);
      const reason =
        error instanceof PreflightBlockedError
          ? `pre-flight blocked it: ${error.report.blockers.map((b) => `${b.code}: ${b.message}`).join('; ')}`
          : `the submission failed: ${error instanceof DrError ? `${error.code}: ` : ''}${(error as Error).message}`;
      return await refuse(windowed, error instanceof DrError ? error.code : 'SUBMIT_FAILED', reason);
    }
    if (!drill && arm !== undefined) await markSpent(arm.plan, submitted.id);
    const started: DecisionRecord = { ...windowed, state: 'submitted', execution: submitted.id };
    await store.putDecision(started);
    if (!drill) await store.putFailover(started);
    await record(started, { epoch: submitted.epoch, epochFloor, evidence: evidenceFinal }, submitted.id);
    notify(
      autoFailoverNotification({
        plan: name,
        stage: 'started',
        occurrence: submitted.id,
        site: loss.site,
        execution: submitted.id,
        details: { drill, evidence: evidenceFinal },
      }),
    );
    log.warn({ plan: name, site: loss.site, execution: submitted.id, drill }, 'automatic failover submitted');
    if (!drill) options.onStarted?.(loss.site, submitted.id);
    void follow(started, submitted.id).catch((error: unknown) =>
      log.warn({ err: error, execution: submitted.id }, 'automatic failover: following it failed'),
    );
    return { plan: name, decision: 'submitted', execution: submitted.id };
  };

  /** The claim's placeholder replaced by the execution the arming was spent on. */
  const markSpent = async (plan: string, execution: string): Promise<void> => {
    const arm = (await store.arms()).get(plan);
    if (arm?.spent === undefined) return;
    await redis.hset(
      autoKeys(prefix).arms,
      plan,
      JSON.stringify({ ...arm, spent: { execution, at: arm.spent.at } }),
    );
  };

  const plansOf = async (site: string): Promise<string[]> => {
    const names: string[] = [];
    for (const { name, latest } of await listPlans(redis, prefix)) {
      const plan = await readPlan(name, latest.hash).catch(() => undefined);
      if (plan?.source === site) names.push(name);
    }
    return names;
  };

  return {
    store,
    async onSiteLost(loss) {
      const names = await plansOf(loss.site);
      const outcomes = await Promise.all(
        names.map((name) =>
          runPlan(name, loss, false, SYSTEM_ACTOR).catch((error: unknown): PlanOutcome => {
            log.error({ err: error, plan: name, site: loss.site }, 'automatic failover: deciding failed');
            return { plan: name, decision: 'refused', reason: (error as Error).message };
          }),
        ),
      );
      return outcomes;
    },
    async onSiteReturned(site) {
      for (const [field, decision] of await store.decisions()) {
        const plan = decision.plan;
        if (!field.endsWith('#failover') || decision.site !== site || decision.execution === undefined)
          continue;
        if (decision.returned !== undefined) continue;
        const returned = { at: new Date().toISOString(), reprotect: `drctl reprotect ${decision.execution}` };
        await store.putFailover({ ...decision, returned });
        notify(
          autoFailoverNotification({
            plan,
            stage: 'finished',
            occurrence: `${decision.execution}/returned`,
            site,
            execution: decision.execution,
            reason: `site ${site} returned: its old primaries stay off (epochs); reprotect is offered, never started by itself (${returned.reprotect})`,
            details: { reprotectOffered: true },
          }),
        );
        await record({ ...decision, state: decision.state }, { returned });
      }
    },
    async drill(name, by) {
      const version = await latestPlanVersion(redis, prefix, name);
      const plan = await readPlan(name, version.hash);
      return await runPlan(name, drillLoss(plan.source, monitor), true, by);
    },
    useMonitor(view) {
      monitor = view;
    },
    async close() {
      closed = true;
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve();
      }
      timers.clear();
      await client.close();
    },
  };
}
