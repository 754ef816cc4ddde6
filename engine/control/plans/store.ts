/**
 * The vault's recovery plans: every uploaded version of a plan, kept by its content hash (engine/plan's
 * planHash of the validated plan), with the YAML text it came from so that what runs can always be
 * shown and located. Only validated plans are stored; a plan names catalog scripts, it never brings
 * code (the upload is the YAML text and a file name, nothing else).
 *
 * ```
 * <prefix>:plans                       ZSET name → last upload (ms)
 * <prefix>:{plan:<name>}:versions      ZSET hash → first upload (ms)
 * <prefix>:{plan:<name>}:v:<hash>      HASH file, text, uploadedAt, by, vms, groups, actions
 * ```
 * A plan's keys share one hash tag, so one script stores a version and its index entry at once.
 */
import type { Redis } from 'ioredis';
import { DrError, InputError } from '../../common/index.ts';
import { formatIssue, type PlanIssue, parsePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';

/** A stored version of a plan, as the API shows it (without its text unless asked). */
export interface PlanVersion {
  name: string;
  hash: string;
  file: string;
  uploadedAt: string;
  by: string;
  vms: number;
  groups: number;
  actions: number;
  text?: string;
}

export interface UploadResult {
  /** False when this version (same hash) was already in the vault: nothing changed. */
  created: boolean;
  version: PlanVersion;
  warnings: PlanIssue[];
}

const STORE_VERSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[2])
return 1`;

function keys(prefix: string, name = '', hash = '') {
  return {
    plans: `${prefix}:plans`,
    versions: `${prefix}:{plan:${name}}:versions`,
    version: `${prefix}:{plan:${name}}:v:${hash}`,
  };
}

/**
 * Validate `text` as engine/plan does for `drctl validate` and store it as a version of its plan.
 * An invalid plan is an InputError (400) whose details carry every issue with file:line:column.
 */
export async function uploadPlan(
  redis: Redis,
  prefix: string,
  upload: { file: string; text: string; by: string },
): Promise<UploadResult> {
  const result = parsePlan(upload.text, upload.file);
  if (!result.ok) {
    const errors = result.issues.filter((issue) => issue.severity === 'error');
    throw new InputError(
      'PLAN_INVALID',
      `${upload.file} is not a valid recovery plan; nothing was stored:\n${result.issues.map(formatIssue).join('\n')}`,
      { issues: result.issues, errors: errors.length },
    );
  }
  const { plan, hash } = result;
  const name = plan.metadata.name;
  const k = keys(prefix, name, hash);
  const now = Date.now();
  const fields = {
    name,
    hash,
    file: upload.file,
    text: upload.text,
    uploadedAt: String(now),
    by: upload.by,
    vms: String(plan.vms.length),
    groups: String(plan.groups.length),
    actions: String(plan.actions.length),
  };
  // One script: of two uploads of one version exactly one stores it, and no reader sees half of it.
  const created =
    (await redis.eval(
      STORE_VERSION,
      2,
      k.version,
      k.versions,
      String(now),
      hash,
      ...Object.entries(fields).flat(),
    )) === 1;
  await redis.zadd(k.plans, now, name);
  const version = created ? toVersion(fields, false) : await getPlanVersion(redis, prefix, name, hash);
  return { created, version, warnings: result.warnings };
}

function toVersion(fields: Record<string, string>, withText: boolean): PlanVersion {
  return {
    name: fields.name ?? '',
    hash: fields.hash ?? '',
    file: fields.file ?? '',
    uploadedAt: new Date(Number(fields.uploadedAt ?? 0)).toISOString(),
    by: fields.by ?? '',
    vms: Number(fields.vms ?? 0),
    groups: Number(fields.groups ?? 0),
    actions: Number(fields.actions ?? 0),
    ...(withText && fields.text !== undefined ? { text: fields.text } : {}),
  };
}

/** One version, with its text; PLAN_VERSION_NOT_FOUND (404) when the vault has no such version. */
export async function getPlanVersion(
  redis: Redis,
  prefix: string,
  name: string,
  hash: string,
  options: { text?: boolean } = {},
): Promise<PlanVersion> {
  const fields = await redis.hgetall(keys(prefix, name, hash).version);
  if (fields.text === undefined) {
    await assertPlanExists(redis, prefix, name);
    throw new DrError(
      'PLAN_VERSION_NOT_FOUND',
      `plan '${name}' has no version ${hash.slice(0, 12)} in the vault; upload it (POST /api/v1/plans) or list its versions (GET /api/v1/plans/${name}/versions)`,
      { exitCode: 2 },
    );
  }
  return toVersion(fields, options.text === true);
}

async function assertPlanExists(redis: Redis, prefix: string, name: string): Promise<void> {
  if ((await redis.zscore(keys(prefix).plans, name)) === null) {
    throw new DrError('PLAN_NOT_FOUND', `no plan '${name}' in the vault; GET /api/v1/plans lists them`, {
      exitCode: 2,
    });
  }
}

/** The versions of a plan, newest first. */
export async function listPlanVersions(redis: Redis, prefix: string, name: string): Promise<PlanVersion[]> {
  await assertPlanExists(redis, prefix, name);
  const hashes = await redis.zrevrange(keys(prefix, name).versions, 0, -1);
  const pipeline = redis.pipeline();
  for (const hash of hashes) pipeline.hmget(keys(prefix, name, hash).version, ...VERSION_FIELDS);
  const rows = (await pipeline.exec()) ?? [];
  return rows.map(([, values]) => toVersion(zipFields(values as (string | null)[]), false));
}

const VERSION_FIELDS = ['name', 'hash', 'file', 'uploadedAt', 'by', 'vms', 'groups', 'actions'] as const;

function zipFields(values: readonly (string | null)[]): Record<string, string> {
  const fields: Record<string, string> = {};
  VERSION_FIELDS.forEach((field, index) => {
    const value = values[index];
    if (value !== null && value !== undefined) fields[field] = value;
  });
  return fields;
}

/** The newest version of a plan (with its text). */
export async function latestPlanVersion(redis: Redis, prefix: string, name: string): Promise<PlanVersion> {
  await assertPlanExists(redis, prefix, name);
  const [hash] = await redis.zrevrange(keys(prefix, name).versions, 0, 0);
  return await getPlanVersion(redis, prefix, name, hash ?? '', { text: true });
}

/** Every plan with its newest version, most recently uploaded first. */
export async function listPlans(
  redis: Redis,
  prefix: string,
): Promise<Array<{ name: string; versions: number; latest: PlanVersion }>> {
  const names = await redis.zrevrange(keys(prefix).plans, 0, -1);
  return await Promise.all(
    names.map(async (name) => {
      const versions = await listPlanVersions(redis, prefix, name);
      const latest = versions[0];
      if (latest === undefined) throw new DrError('PLAN_CORRUPT', `plan '${name}' has no versions`);
      return { name, versions: versions.length, latest };
    }),
  );
}

/**
 * The validated plan of a stored version, parsed again from its text (parsing is pure: the same text
 * gives the same plan and hash). Kept parsed per hash: a 10,000-VM plan takes a while to parse.
 */
export function createPlanReader(redis: Redis, prefix: string, options: { cache?: number } = {}) {
  const parsed = new Map<string, RecoveryPlan>();
  const limit = options.cache ?? 16;
  return async (name: string, hash: string): Promise<RecoveryPlan> => {
    const hit = parsed.get(hash);
    if (hit !== undefined && hit.metadata.name === name) return hit;
    const [text, file] = await redis.hmget(keys(prefix, name, hash).version, 'text', 'file');
    if (text === null || text === undefined) await getPlanVersion(redis, prefix, name, hash); // the 404
    const result = parsePlan(text ?? '', file ?? 'plan.yaml');
    if (!result.ok || result.hash !== hash) {
      throw new DrError(
        'PLAN_CORRUPT',
        `the stored version ${hash.slice(0, 12)} of plan '${name}' no longer parses to its hash; upload it again`,
      );
    }
    if (parsed.size >= limit) parsed.delete(parsed.keys().next().value ?? '');
    parsed.set(hash, result.plan);
    return result.plan;
  };
}

/**
 * The targets (spec.targets) of a plan's newest stored version, undefined when the vault has no
 * plan of that name: what a drill history of a plan never drilled is judged against.
 */
export function createStoredTargets(redis: Redis, prefix: string) {
  const read = createPlanReader(redis, prefix, { cache: 4 });
  return async (name: string): Promise<RecoveryPlan['targets'] | undefined> => {
    const [hash] = await redis.zrevrange(keys(prefix, name).versions, 0, 0);
    if (hash === undefined || (await redis.zscore(keys(prefix).plans, name)) === null) return undefined;
    return { ...(await read(name, hash)).targets };
  };
}
