/**
 * Script actions against the engine's script catalog, the one its workers serve: each worker
 * announces per site the folder it runs scripts from and the entries there
 * (engine/executor catalog-announce.ts). A script of the run (action or undo, of the selected
 * part, for this failover type and direction) must be served by every live worker of the site it
 * runs at (`runOn: target` → the run's target site, else `control`): a job may land on any of
 * them. Reading is I/O (runPreflight does it); deciding is pure (here).
 */
import type { Direction, FailoverType, RecoveryPlan } from '../plan/types.ts';
import { subPlan } from './estimate.ts';

/** What pre-flight needs of one live worker's announcement. */
export interface ServedCatalogView {
  worker: string;
  folder?: string;
  /** Entry name → content hash. */
  scripts: Record<string, string>;
}

/** The live announcements of a site's workers (`control` for control-plane actions). */
export type CatalogReader = (site: string) => Promise<readonly ServedCatalogView[]>;

export interface ScriptFinding {
  severity: 'blocker' | 'warning';
  code: 'SCRIPT_NOT_IN_CATALOG' | 'NO_SCRIPT_CATALOG' | 'SCRIPT_CATALOG_DIFFERS';
  site: string;
  path: string;
  message: string;
  hint: string;
}

interface ScriptUse {
  script: string;
  site: string;
  path: string;
  action: string;
}

/** The scripts this run may start, and where each runs. */
export function scriptUses(
  plan: RecoveryPlan,
  vms: readonly string[],
  type: FailoverType,
  direction: Direction,
): ScriptUse[] {
  const toSite = direction === 'forward' ? plan.target : plan.source;
  const runs = new Set(
    subPlan(plan, vms)
      .actions.filter((action) => action.on.includes(type) && action.directions.includes(direction))
      .map((action) => action.name),
  );
  const uses: ScriptUse[] = [];
  plan.actions.forEach((action, index) => {
    if (!runs.has(action.name)) return;
    for (const [run, path, name] of [
      [action.run, `spec.actions[${index}].script`, action.name],
      [action.undo, `spec.actions[${index}].undo.script`, `${action.name} (undo)`],
    ] as const) {
      if (run?.type !== 'script') continue;
      uses.push({
        script: run.script,
        site: run.runOn === 'target' ? toSite : 'control',
        path,
        action: name,
      });
    }
  });
  return uses;
}

/** The findings for `uses`, given each site's live announcements. */
export function scriptFindings(
  uses: readonly ScriptUse[],
  served: ReadonlyMap<string, readonly ServedCatalogView[]>,
): ScriptFinding[] {
  const findings: ScriptFinding[] = [];
  const unserved = new Set<string>();
  for (const use of uses) {
    const workers = served.get(use.site) ?? [];
    const withCatalog = workers.filter((w) => w.folder !== undefined);
    if (withCatalog.length === 0) {
      if (unserved.has(use.site)) continue;
      unserved.add(use.site);
      findings.push({
        severity: 'blocker',
        code: 'NO_SCRIPT_CATALOG',
        site: use.site,
        path: use.path,
        message:
          workers.length === 0
            ? `action ${use.action}: no worker of ${use.site} is running (none announced itself), so no worker serves a script catalog there`
            : `action ${use.action}: no worker of ${use.site} serves a script catalog (${workers.length} running without one)`,
        hint:
          use.site === 'control'
            ? 'start the control plane with a catalog: `drctl serve --script-catalog <dir>` (or DR_SCRIPT_CATALOG; `drctl up --script-catalog <dir>`)'
            : `start the site's agent with a catalog: \`drctl agent --site ${use.site} --script-catalog <dir>\` (or DR_SCRIPT_CATALOG; \`drctl up --script-catalog <dir>\`)`,
      });
      continue;
    }
    const lacking = workers.filter((w) => w.scripts[use.script] === undefined);
    if (lacking.length > 0) {
      const folders = [...new Set(lacking.map((w) => w.folder ?? 'no catalog'))].join(', ');
      findings.push({
        severity: 'blocker',
        code: 'SCRIPT_NOT_IN_CATALOG',
        site: use.site,
        path: use.path,
        message: `action ${use.action}: script "${use.script}" is not in the script catalog of ${lacking.length} of ${workers.length} worker(s) of ${use.site} (${folders})`,
        hint: `add ${use.script}(.sh|.mjs), executable, to the catalog folder of ${use.site}'s workers, or name an entry that is there`,
      });
      continue;
    }
    const versions = new Set(workers.map((w) => w.scripts[use.script]));
    if (versions.size > 1) {
      findings.push({
        severity: 'warning',
        code: 'SCRIPT_CATALOG_DIFFERS',
        site: use.site,
        path: use.path,
        message: `action ${use.action}: the workers of ${use.site} serve ${versions.size} different versions of script "${use.script}"`,
        hint: `give every worker of ${use.site} the same catalog: which version runs depends on which worker takes the job`,
      });
    }
  }
  return findings;
}
