import type { LockReader } from '../locks/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';
import { checkAccept } from './accept.ts';
import { estimateRunRtoMs } from './estimate.ts';
import { type EvaluateOptions, evaluatePreflight } from './evaluate.ts';
import { gatherInventory, type HyperVReadApi } from './gather.ts';
import { type CatalogReader, type ServedCatalogView, scriptFindings, scriptUses } from './scripts.ts';
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
   * The script catalogs the engine's workers serve, per site (engine/executor's
   * readServedCatalogs): every script action of the run must be served by the workers of the site
   * it runs at (scripts.ts). Without it, scripts are not checked.
   */
  catalogs?: CatalogReader;
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
    input.catalogs === undefined
      ? undefined
      : await readScriptFindings(input, subset.vms, direction).catch(async (error: unknown) => {
          await gathering.catch(() => undefined);
          throw error;
        });
  const inventory = await gathering;
  const gatherMs = timer() - started;
  return evaluatePreflight(input.plan, inventory, {
    ...input,
    selection: subset,
    gatherMs,
    timer,
    ...(estimateRtoMs === undefined ? {} : { estimateRtoMs }),
    ...(scripts === undefined ? {} : { scriptFindings: scripts }),
  });
}

/** Read the announcements of the sites where the run's scripts run, then decide (scripts.ts). */
async function readScriptFindings(
  input: PreflightInput,
  vms: readonly string[],
  direction: 'forward' | 'failback',
): Promise<ReturnType<typeof scriptFindings>> {
  const uses = scriptUses(input.plan, vms, input.type, direction);
  const read = input.catalogs;
  if (uses.length === 0 || read === undefined) return [];
  const sites = [...new Set(uses.map((use) => use.site))];
  const served = new Map<string, readonly ServedCatalogView[]>();
  await Promise.all(sites.map(async (site) => served.set(site, await read(site))));
  return scriptFindings(uses, served);
}
