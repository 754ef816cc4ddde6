import { catalogIssues } from '../executor/handlers/catalog.ts';
import type { LockReader } from '../locks/index.ts';
import type { Direction, FailoverType, RecoveryPlan } from '../plan/types.ts';
import { checkAccept } from './accept.ts';
import { estimateRunRtoMs, subPlan } from './estimate.ts';
import { type EvaluateOptions, evaluatePreflight } from './evaluate.ts';
import { gatherInventory, type HyperVReadApi } from './gather.ts';
import { type Selection, selectSubset } from './subset.ts';
import type { PreflightReport } from './types.ts';

export interface PreflightInput extends Omit<EvaluateOptions, 'selection' | 'gatherMs'> {
  plan: RecoveryPlan;
  /** Read calls only; a full HostDriver fits. */
  api: HyperVReadApi;
  selection?: Selection;
  /** Lock and failed-over state (engine/locks' createLockReader). Without it, those checks are skipped. */
  locks?: LockReader;
  /** Simulated time; read from the API (`now()`) when absent. */
  now?: () => Date;
  /** Which recovery points to list (see GatherOptions.points). @defaultValue 'needed' */
  points?: 'all' | 'needed';
  /** Recovery-point reads in flight (see GatherOptions.concurrency). @defaultValue 256 */
  concurrency?: number;
  /**
   * Compute the run's RTO estimate (engine/plan's compilePlan of the selection) when
   * `estimateRtoMs` is not given: what `--dry-run` shows. The gate in front of an execution skips
   * it, since submitting compiles the plan anyway.
   * @defaultValue true
   */
  estimate?: boolean;
  /**
   * The engine's script catalog (the folder workers run scripts from): every script action of the
   * run must name an entry there, else SCRIPT_NOT_IN_CATALOG. Without it, scripts are not checked.
   */
  scriptCatalog?: string;
}

/**
 * Pre-flight of one run of a plan: reads the inventory (never a mutating call), then decides.
 * Throws InputError only for a bad selection; everything about the world is a finding.
 */
export async function runPreflight(input: PreflightInput): Promise<PreflightReport> {
  const timer = input.timer ?? (() => performance.now());
  const started = timer();
  const subset = selectSubset(input.plan, input.selection);
  checkAccept(input.accept ?? []); // bad input fails before any read
  const chosen = new Set(subset.vms);
  const direction = input.direction ?? 'forward';
  const forward = direction === 'forward';
  const gathering = gatherInventory(input.api, input.plan, {
    type: input.type,
    fromSite: forward ? input.plan.source : input.plan.target,
    toSite: forward ? input.plan.target : input.plan.source,
    vms: input.plan.vms.filter((vm) => chosen.has(vm.name)),
    ...(input.recoveryPoint === undefined ? {} : { recoveryPoint: input.recoveryPoint }),
    ...(input.locks === undefined ? {} : { locks: input.locks }),
    ...(input.now === undefined ? {} : { now: input.now }),
    ...(input.points === undefined ? {} : { points: input.points }),
    ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
  });
  // The estimate is CPU work: it runs while the reads are in flight.
  let estimateRtoMs = input.estimateRtoMs;
  if (estimateRtoMs === undefined && input.estimate !== false) {
    try {
      estimateRtoMs = estimateRunRtoMs(input.plan, subset.vms, input.type, direction);
    } catch (error) {
      await gathering.catch(() => undefined);
      throw error;
    }
  }
  const scripts =
    input.scriptCatalog === undefined
      ? undefined
      : await scriptIssues(input.plan, subset.vms, input.type, direction, input.scriptCatalog).catch(
          async (error: unknown) => {
            await gathering.catch(() => undefined);
            throw error;
          },
        );
  const inventory = await gathering;
  const gatherMs = timer() - started;
  return evaluatePreflight(input.plan, inventory, {
    ...input,
    selection: subset,
    gatherMs,
    timer,
    ...(estimateRtoMs === undefined ? {} : { estimateRtoMs }),
    ...(scripts === undefined ? {} : { scriptIssues: scripts }),
  });
}

/**
 * The catalog findings for the actions this run takes (those of the selected part of the plan,
 * for this failover type and direction), with paths into the whole plan.
 */
async function scriptIssues(
  plan: RecoveryPlan,
  vms: readonly string[],
  type: FailoverType,
  direction: Direction,
  catalog: string,
): Promise<{ path: string; message: string; hint: string }[]> {
  const runs = new Set(
    subPlan(plan, vms)
      .actions.filter((action) => action.on.includes(type) && action.directions.includes(direction))
      .map((action) => action.name),
  );
  const issues = await catalogIssues(plan, catalog, plan.metadata.name);
  return issues
    .filter((issue) => issue.code === 'SCRIPT_CATALOG_MISSING' || runs.has(actionNameAt(plan, issue.path)))
    .map((issue) => ({ path: issue.path, message: issue.message, hint: issue.hint ?? '' }));
}

function actionNameAt(plan: RecoveryPlan, path: string): string {
  const index = /^spec\.actions\[(\d+)\]/.exec(path)?.[1];
  return index === undefined ? '' : (plan.actions[Number(index)]?.name ?? '');
}
