import type { Redis } from 'ioredis';
import { DrError, InputError } from '../common/index.ts';
import { planLockKey, vmLockKey } from './keys.ts';
import { ACQUIRE_SCRIPT, FORCE_RELEASE_SCRIPT, PERSIST_SCRIPT, RELEASE_SCRIPT } from './scripts.ts';
import { type AcquireResult, type LockConflict, type LockHolder, lockHolderSchema } from './types.ts';

export interface AcquireLocksRequest {
  execution: string;
  plan: string;
  /** Every VM the execution will touch. */
  vms: readonly string[];
  /** The execution's operation, shown to whoever is refused. */
  operation?: string;
  /**
   * Lock lifetime in ms. Locks live as long as their execution: a crashed orchestrator's
   * execution is resumed (and re-acquires its own locks), not abandoned, so there is no expiry
   * unless a caller asks for one. Operators free a dead execution's locks with `forceRelease`.
   * @defaultValue 0 (no expiry)
   */
  ttlMs?: number;
  /** Clock for the holder's `since`. @defaultValue () => new Date() */
  now?: () => Date;
}

/**
 * Takes the plan lock and every VM lock in one atomic step (one round trip, one Lua script): all
 * of them, or none and the holder of each lock that stands in the way. Re-entrant for the same
 * execution, so a resumed execution calls it again safely.
 */
export async function acquireLocks(
  redis: Redis,
  prefix: string,
  request: AcquireLocksRequest,
): Promise<AcquireResult> {
  if (request.execution === '' || request.plan === '') {
    throw new InputError('LOCK_BAD_REQUEST', 'acquireLocks needs an execution id and a plan name');
  }
  const vms = [...new Set(request.vms)];
  const holder: LockHolder = {
    execution: request.execution,
    plan: request.plan,
    ...(request.operation === undefined ? {} : { operation: request.operation }),
    since: (request.now ?? (() => new Date()))().toISOString(),
  };
  const keys = [planLockKey(prefix, request.plan), ...vms.map((vm) => vmLockKey(prefix, vm))];
  const ttl = Math.max(0, Math.floor(request.ttlMs ?? 0));
  const reply = await redis.eval(ACQUIRE_SCRIPT, keys.length, [
    ...keys,
    request.execution,
    JSON.stringify(holder),
    String(ttl),
  ]);
  const values = asArray(reply, 'acquire');
  if (values[0] !== -1) return { ok: true, acquired: Number(values[0]) };
  const conflicts: LockConflict[] = [];
  for (const [index, raw] of pairs(values.slice(1))) {
    const parsed = parseHolder(raw);
    if (index === 1) conflicts.push({ kind: 'plan', name: request.plan, holder: parsed });
    else conflicts.push({ kind: 'vm', name: vms[index - 2] ?? '?', holder: parsed });
  }
  return { ok: false, conflicts };
}

export interface ReleaseLocksRequest {
  execution: string;
  plan: string;
  vms: readonly string[];
}

/** Frees the plan and VM locks this execution holds; locks of others are left alone. */
export async function releaseLocks(
  redis: Redis,
  prefix: string,
  request: ReleaseLocksRequest,
): Promise<number> {
  const keys = [
    planLockKey(prefix, request.plan),
    ...[...new Set(request.vms)].map((vm) => vmLockKey(prefix, vm)),
  ];
  const reply = await redis.eval(RELEASE_SCRIPT, keys.length, [...keys, request.execution]);
  return Number(reply);
}

/**
 * Keeps the locks this execution holds for good (removes their expiry). A submit takes its locks
 * with a short TTL so that a submitter dying between the lock and the stored execution leaves
 * nothing held for long, then calls this once the execution is stored. Returns how many were kept.
 */
export async function persistLocks(
  redis: Redis,
  prefix: string,
  request: ReleaseLocksRequest,
): Promise<number> {
  const keys = [
    planLockKey(prefix, request.plan),
    ...[...new Set(request.vms)].map((vm) => vmLockKey(prefix, vm)),
  ];
  return Number(await redis.eval(PERSIST_SCRIPT, keys.length, [...keys, request.execution]));
}

/**
 * Operator's escape hatch: frees the named locks whoever holds them (a dead execution that will
 * not be resumed). Returns what was held, for the audit log.
 */
export async function forceRelease(
  redis: Redis,
  prefix: string,
  target: { plan?: string; vms?: readonly string[] },
): Promise<LockConflict[]> {
  const names: Array<{ kind: 'plan' | 'vm'; name: string }> = [];
  if (target.plan !== undefined) names.push({ kind: 'plan', name: target.plan });
  for (const vm of new Set(target.vms ?? [])) names.push({ kind: 'vm', name: vm });
  if (names.length === 0) return [];
  const keys = names.map((n) =>
    n.kind === 'plan' ? planLockKey(prefix, n.name) : vmLockKey(prefix, n.name),
  );
  const values = asArray(await redis.eval(FORCE_RELEASE_SCRIPT, keys.length, keys), 'forceRelease');
  const released: LockConflict[] = [];
  for (const [index, raw] of pairs(values)) {
    const entry = names[index - 1];
    if (entry !== undefined) released.push({ ...entry, holder: parseHolder(raw) });
  }
  return released;
}

/** Holders of the VMs' locks (free VMs are absent), in one MGET. */
export async function readLocks(
  redis: Redis,
  prefix: string,
  vms: readonly string[],
): Promise<Map<string, LockHolder>> {
  const out = new Map<string, LockHolder>();
  const unique = [...new Set(vms)];
  if (unique.length === 0) return out;
  const values = await redis.mget(unique.map((vm) => vmLockKey(prefix, vm)));
  values.forEach((raw, i) => {
    const vm = unique[i];
    if (raw !== null && vm !== undefined) out.set(vm, parseHolder(raw));
  });
  return out;
}

/** The execution holding the plan, if any. */
export async function readPlanLock(
  redis: Redis,
  prefix: string,
  plan: string,
): Promise<LockHolder | undefined> {
  const raw = await redis.get(planLockKey(prefix, plan));
  return raw === null ? undefined : parseHolder(raw);
}

function parseHolder(raw: unknown): LockHolder {
  const text = typeof raw === 'string' ? raw : String(raw);
  try {
    const parsed = lockHolderSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through: a value someone wrote by hand still blocks, and says so
  }
  return { execution: `unknown (${text.slice(0, 60)})`, plan: 'unknown', since: '' };
}

function asArray(reply: unknown, what: string): unknown[] {
  if (!Array.isArray(reply)) {
    throw new DrError('LOCK_PROTOCOL', `unexpected reply from the ${what} lock script`, {
      details: { reply: String(reply) },
    });
  }
  return reply;
}

function* pairs(values: unknown[]): Generator<[number, unknown]> {
  for (let i = 0; i + 1 < values.length; i += 2) yield [Number(values[i]), values[i + 1]];
}
