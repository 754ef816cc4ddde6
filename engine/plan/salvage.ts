import type { z } from 'zod';
import { tryParseDuration } from '../common/index.ts';
import type { CheckAction, CheckGroup, CheckInput, CheckRun, CheckVm } from './checks.ts';
import type { YamlPath } from './positions.ts';
import type { RawIssue } from './raw-issue.ts';
import { actionSchema, planSchema } from './schema.ts';

/**
 * The semantic checks on a plan that failed the schema, so one run reports both: a typo'd key and
 * an unknown VM in another VM's dependsOn, a bad duration and a cycle. The checks read what is
 * well-formed (see CheckInput): a VM that is not a mapping is a hole, a dependsOn that is not a
 * list is absent, a name that is not a string is unreadable. Nothing here throws on any data.
 */
export function salvageForChecks(data: unknown): CheckInput | undefined {
  if (!isRecord(data) || !isRecord(data.spec)) return undefined;
  const spec = data.spec;
  let namesComplete = true;

  const vms: (CheckVm | undefined)[] = [];
  if (Array.isArray(spec.vms)) {
    for (const raw of spec.vms) {
      if (!isRecord(raw) || typeof raw.name !== 'string') namesComplete = false;
      vms.push(isRecord(raw) ? { name: stringOr(raw.name), dependsOn: strings(raw.dependsOn) } : undefined);
    }
  } else {
    namesComplete = false;
  }

  let groups: (CheckGroup | undefined)[] | undefined;
  if (Array.isArray(spec.groups)) {
    groups = spec.groups.map((raw) => {
      if (!isRecord(raw) || typeof raw.name !== 'string') namesComplete = false;
      return isRecord(raw) ? { name: stringOr(raw.name), vms: strings(raw.vms) } : undefined;
    });
  } else if (spec.groups !== undefined) {
    // An unreadable groups list may hold the group an action runs before or after.
    namesComplete = false;
  }

  let actions: (CheckAction | undefined)[] | undefined;
  if (Array.isArray(spec.actions)) {
    actions = spec.actions.map((raw): CheckAction | undefined => {
      if (!isRecord(raw)) return undefined;
      const action: CheckAction = {
        ...run(raw, ACTION_KEYS),
        name: stringOr(raw.name),
        before: raw.before,
        after: raw.after,
      };
      if (isRecord(raw.undo)) action.undo = run(raw.undo, UNDO_KEYS);
      return action;
    });
  }

  // The lease check needs a readable delay: a malformed one must not fall back to the default.
  let automaticFailover: CheckInput['spec']['automaticFailover'];
  const automatic = spec.automaticFailover;
  if (isRecord(automatic) && !hasUnknownKeys(automatic, AUTOMATIC_KEYS)) {
    const after = automatic.after;
    if (after === undefined) automaticFailover = { enabled: automatic.enabled };
    else if (typeof after === 'string' && tryParseDuration(after) !== undefined)
      automaticFailover = { enabled: automatic.enabled, after };
  }

  return {
    spec: {
      source: stringOr(spec.source),
      target: stringOr(spec.target),
      vms,
      groups,
      actions,
      automaticFailover,
    },
    namesComplete,
  };
}

/**
 * What the schema already reports, as path prefixes: a semantic issue at or under one of them would
 * say the same thing twice (or guess about a value the schema refused), so it is left out.
 */
export function schemaSubjects(issues: readonly z.core.$ZodIssue[]): Set<string> {
  const subjects = new Set<string>();
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) subjects.add(pathKey([...issue.path, key]));
    } else {
      subjects.add(pathKey(issue.path));
    }
  }
  return subjects;
}

/** Semantic issues that say something the schema issues do not. */
export function beyondSchema(issues: readonly RawIssue[], subjects: ReadonlySet<string>): RawIssue[] {
  return issues.filter((issue) => {
    for (let n = 0; n <= issue.path.length; n++) {
      if (subjects.has(pathKey(issue.path.slice(0, n)))) return false;
    }
    return true;
  });
}

function pathKey(path: YamlPath): string {
  return path.map(String).join('\u0000');
}

const ACTION_KEYS: ReadonlySet<string> = new Set(Object.keys(actionSchema.shape));
const UNDO_KEYS: ReadonlySet<string> = new Set(Object.keys(actionSchema.shape.undo.unwrap().shape));
const AUTOMATIC_KEYS: ReadonlySet<string> = new Set(
  Object.keys(planSchema.shape.spec.shape.automaticFailover.unwrap().shape),
);

function run(raw: Record<string, unknown>, known: ReadonlySet<string>): CheckRun {
  return {
    script: raw.script,
    webhook: raw.webhook,
    manual: raw.manual,
    args: raw.args,
    runOn: raw.runOn,
    unknownKeys: hasUnknownKeys(raw, known),
  };
}

function hasUnknownKeys(raw: Record<string, unknown>, known: ReadonlySet<string>): boolean {
  for (const key of Object.keys(raw)) if (!known.has(key)) return true;
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A list's strings in place, anything else a hole; not a list: absent. */
function strings(value: unknown): (string | undefined)[] | undefined {
  return Array.isArray(value) ? value.map(stringOr) : undefined;
}
