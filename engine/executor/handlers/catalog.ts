/**
 * The script catalog: a folder configured for the engine (`--script-catalog <dir>` or
 * DR_SCRIPT_CATALOG), never the plan's folder. A plan names an entry (`script: update-dns`); the
 * entry is `<catalog>/<name>` (executable), `<name>.sh` or `<name>.mjs`. Workers resolve entries
 * when they run them (script.ts) and announce what they serve (scanCatalog, catalog-announce.ts),
 * which pre-flight checks a run against; `drctl validate --script-catalog` checks a plan file
 * against a folder offline, each unknown entry located in the plan file (catalogIssues).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createPathLocator, type PathLocator, type PlanResult } from '../../plan/index.ts';
import type { ActionRun, PlanIssue, RecoveryPlan } from '../../plan/types.ts';

/** Catalog names are plain file names: no paths, no traversal out of the catalog. */
export const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface CatalogScript {
  path: string;
  command: string;
  args: string[];
}

export type CatalogLookup =
  | { ok: true; script: CatalogScript }
  | {
      ok: false;
      code: 'SCRIPT_NAME_INVALID' | 'SCRIPT_NOT_EXECUTABLE' | 'SCRIPT_NOT_FOUND';
      message: string;
    };

/** Find a catalog entry; the message says what was looked for and what to do. */
export async function findCatalogScript(catalog: string, name: string): Promise<CatalogLookup> {
  if (!SCRIPT_NAME.test(name)) {
    return {
      ok: false,
      code: 'SCRIPT_NAME_INVALID',
      message: `"${name}" is not a catalog script name (letters, digits, . _ -; no paths)`,
    };
  }
  const plain = join(catalog, name);
  if (await isFile(plain)) {
    if (!(await isExecutable(plain)))
      return { ok: false, code: 'SCRIPT_NOT_EXECUTABLE', message: `${plain} is not executable; chmod +x it` };
    return { ok: true, script: { path: plain, command: plain, args: [] } };
  }
  const sh = `${plain}.sh`;
  if (await isFile(sh)) {
    return {
      ok: true,
      script: (await isExecutable(sh))
        ? { path: sh, command: sh, args: [] }
        : { path: sh, command: '/bin/sh', args: [sh] },
    };
  }
  const mjs = `${plain}.mjs`;
  if (await isFile(mjs)) return { ok: true, script: { path: mjs, command: process.execPath, args: [mjs] } };
  return {
    ok: false,
    code: 'SCRIPT_NOT_FOUND',
    message: `script "${name}" is not in the catalog ${catalog} (looked for ${name}, ${name}.sh, ${name}.mjs)`,
  };
}

/**
 * Every script a plan names (actions and their undos) checked against a catalog: one located
 * error per entry that is missing or unusable.
 */
export async function catalogIssues(
  plan: RecoveryPlan,
  catalog: string,
  file: string,
  locate?: PathLocator,
): Promise<PlanIssue[]> {
  if (!(await isDirectory(catalog))) {
    return [
      {
        code: 'SCRIPT_CATALOG_MISSING',
        message: `script catalog ${catalog} is not a folder`,
        file,
        line: 1,
        column: 1,
        path: '',
        severity: 'error',
        hint: 'point --script-catalog / DR_SCRIPT_CATALOG at the folder of recovery scripts',
      },
    ];
  }
  const issues: PlanIssue[] = [];
  const runs: { run: ActionRun | undefined; path: string; action: string }[] = plan.actions.flatMap(
    (action, index) => [
      { run: action.run, path: `spec.actions[${index}].script`, action: action.name },
      { run: action.undo, path: `spec.actions[${index}].undo.script`, action: `${action.name} (undo)` },
    ],
  );
  for (const { run, path, action } of runs) {
    if (run?.type !== 'script') continue;
    const found = await findCatalogScript(catalog, run.script);
    if (found.ok) continue;
    const at = locate?.(path);
    issues.push({
      code: found.code,
      message: `action ${action}: ${found.message}`,
      file,
      line: at?.line ?? 1,
      column: at?.column ?? 1,
      path,
      severity: 'error',
      hint:
        found.code === 'SCRIPT_NOT_FOUND'
          ? `add ${run.script}(.sh|.mjs) to the catalog, or name an entry that is there`
          : 'fix the catalog entry',
    });
  }
  return issues;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A loaded plan file checked against the catalog as well (`drctl validate --script-catalog`):
 * a valid plan whose scripts are missing becomes invalid, with the located issues.
 */
export async function checkPlanFileCatalog(
  file: string,
  result: PlanResult,
  catalog: string,
): Promise<PlanResult> {
  if (!result.ok) return result;
  const text = await readFile(file, 'utf8');
  const issues = await catalogIssues(result.plan, catalog, file, createPathLocator(text));
  return issues.length === 0 ? result : { ok: false, issues: [...issues, ...result.warnings] };
}

/**
 * What a worker serves from its catalog folder: each entry a plan may name (as findCatalogScript
 * resolves it) with the sha256 of the file that would run. Entries that are unusable (a plain
 * file that is not executable) are left out: a run naming them would fail.
 */
export async function scanCatalog(catalog: string): Promise<Record<string, string>> {
  if (!(await isDirectory(catalog))) return {};
  const names = new Set<string>();
  for (const entry of await readdir(catalog)) {
    const name = entry.replace(/\.(sh|mjs)$/, '');
    if (SCRIPT_NAME.test(name)) names.add(name);
  }
  const scripts: Record<string, string> = {};
  for (const name of [...names].sort()) {
    const found = await findCatalogScript(catalog, name);
    if (!found.ok) continue;
    scripts[name] = createHash('sha256')
      .update(await readFile(found.script.path))
      .digest('hex');
  }
  return scripts;
}
