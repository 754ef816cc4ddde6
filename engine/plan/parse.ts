import { readFile } from 'node:fs/promises';
import { isCollection, visit } from 'yaml';
import { type CheckOptions, checkPlan } from './checks.ts';
import { sortIssues } from './errors.ts';
import { fastParseYaml } from './fast-yaml.ts';
import { planHash } from './hash.ts';
import { normalizePlan } from './normalize.ts';
import { formatPath, Locator, YAML_OPTIONS } from './positions.ts';
import type { RawIssue } from './raw-issue.ts';
import { beyondSchema, salvageForChecks, schemaSubjects } from './salvage.ts';
import { planSchema } from './schema.ts';
import type { PlanIssue, RecoveryPlan } from './types.ts';
import { planWarnings } from './warnings.ts';
import { fromZodIssues } from './zod-issues.ts';

export type PlanResult =
  | { ok: true; plan: RecoveryPlan; hash: string; warnings: PlanIssue[] }
  | { ok: false; issues: PlanIssue[] };

/** Options of parsePlan / loadPlanFile. */
export interface ParseOptions extends CheckOptions {}

/**
 * How far a parse got; the property test uses it to show mutations reach the semantic checks.
 * 'schema': the schema failed (the semantic checks still ran on the well-formed part, salvage.ts).
 */
export type ParseStage = 'syntax' | 'schema' | 'semantic' | 'valid';

/**
 * YAML text → a validated, normalized RecoveryPlan, or every issue with file:line:column. Never
 * throws: malformed YAML, a wrong shape and semantic errors all come back as issues.
 */
export function parsePlan(text: string, file: string, options: ParseOptions = {}): PlanResult {
  return parsePlanWithStage(text, file, options).result;
}

export function parsePlanWithStage(
  text: string,
  file: string,
  options: ParseOptions = {},
): { result: PlanResult; stage: ParseStage } {
  const locator = new Locator(text);
  try {
    // Fast path: a plain plan never builds the positions-keeping document (see fast-yaml.ts).
    let data = fastParseYaml(text);
    if (data === undefined) {
      const doc = locator.document();
      if (doc.errors.length > 0) {
        const issues = doc.errors.map((yamlError): PlanIssue => {
          const { line, column } = locator.position(yamlError.pos[0]);
          return {
            code: 'yaml-syntax',
            message: `invalid YAML: ${firstLine(yamlError.message)}`,
            file,
            line,
            column,
            path: '',
            severity: 'error',
            hint: yamlHint(yamlError.code),
          };
        });
        return { result: { ok: false, issues: sortIssues(issues) }, stage: 'syntax' };
      }
      // A mapping or list used as a key has no place in a plan (yaml would stringify it and
      // print a process warning): report it like any other error.
      let complexKey: number | undefined;
      visit(doc, {
        Pair(_key, pair) {
          if (isCollection(pair.key)) {
            complexKey = pair.key.range?.[0] ?? 0;
            return visit.BREAK;
          }
          return undefined;
        },
      });
      if (complexKey !== undefined) {
        const { line, column } = locator.position(complexKey);
        const issue: PlanIssue = {
          code: 'yaml-syntax',
          message: 'a mapping or list is used as a key',
          file,
          line,
          column,
          path: '',
          severity: 'error',
          hint: 'keys are plain names such as "name:" or "dependsOn:"',
        };
        return { result: { ok: false, issues: [issue] }, stage: 'syntax' };
      }
      try {
        data = doc.toJS({ maxAliasCount: YAML_OPTIONS.maxAliasCount });
      } catch (cause) {
        // Unresolved aliases and alias bombs surface only when the document is turned into data.
        let offset = 0;
        visit(doc, {
          Alias(_key, node) {
            offset = node.range?.[0] ?? 0;
            return visit.BREAK;
          },
        });
        const { line, column } = locator.position(offset);
        const message = `invalid YAML: ${cause instanceof Error ? cause.message : String(cause)}`;
        const issue: PlanIssue = {
          code: 'yaml-syntax',
          message,
          file,
          line,
          column,
          path: '',
          severity: 'error',
        };
        issue.hint = 'plans need no anchors or aliases; write the value out';
        return { result: { ok: false, issues: [issue] }, stage: 'syntax' };
      }
    }
    const parsed = planSchema.safeParse(data);
    if (!parsed.success) {
      // The semantic checks still run on what is well-formed, so one run reports both kinds.
      const raw = fromZodIssues(parsed.error.issues, data);
      const view = salvageForChecks(data);
      if (view !== undefined) {
        raw.push(...beyondSchema(checkPlan(view, options), schemaSubjects(parsed.error.issues)));
      }
      return { result: { ok: false, issues: place(raw, file, locator) }, stage: 'schema' };
    }
    const raw = checkPlan(parsed.data, options);
    const placed = place(raw, file, locator);
    if (raw.some((issue) => issue.severity === 'error')) {
      return { result: { ok: false, issues: placed }, stage: 'semantic' };
    }
    const plan = normalizePlan(parsed.data);
    const warnings = [...placed, ...place(planWarnings(plan), file, locator)];
    return {
      result: { ok: true, plan, hash: planHash(plan), warnings: sortIssues(warnings) },
      stage: 'valid',
    };
  } catch (cause) {
    // A bug of ours, not of the plan; still reported as an issue so no caller sees a stack trace.
    const message = cause instanceof Error ? cause.message : String(cause);
    const issue: PlanIssue = {
      code: 'internal-error',
      message: `internal error while reading the plan: ${message}`,
      file,
      line: 1,
      column: 1,
      path: '',
      severity: 'error',
      hint: 'please report this with the plan file',
    };
    return { result: { ok: false, issues: [issue] }, stage: 'syntax' };
  }
}

/** Reads and parses a plan file; a missing or unreadable file is an issue too, never a throw. */
export async function loadPlanFile(path: string, options: ParseOptions = {}): Promise<PlanResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const issue: PlanIssue = {
      code: 'file-unreadable',
      message: code === 'ENOENT' ? 'no such file' : `cannot read file (${code ?? String(cause)})`,
      file: path,
      line: 1,
      column: 1,
      path: '',
      severity: 'error',
    };
    if (code === 'ENOENT') issue.hint = 'check the path';
    return { ok: false, issues: [issue] };
  }
  return parsePlan(text, path, options);
}

function place(raw: readonly RawIssue[], file: string, locator: Locator): PlanIssue[] {
  if (raw.length === 0) return [];
  return sortIssues(
    raw.map((issue) => {
      const { line, column } = locator.locate(issue.path, issue.on ?? 'value');
      const out: PlanIssue = {
        code: issue.code,
        message: issue.message,
        file,
        line,
        column,
        path: formatPath(issue.path),
        severity: issue.severity,
      };
      if (issue.hint !== undefined) out.hint = issue.hint;
      return out;
    }),
  );
}

function yamlHint(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'MULTIPLE_DOCS':
      return 'a plan file holds one document: remove the extra ---';
    default:
      return 'check the indentation, and that brackets and quotes near here are closed';
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
