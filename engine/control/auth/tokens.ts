/**
 * API tokens for people: `drt_<id>_<secret>`. The vault keeps a token's id, owner, role, scopes,
 * expiry and the SHA-256 of its secret, never the secret: the secret is 256 random bits, so a hash
 * without a salt or a slow KDF is as strong as the secret itself. A revoked token stays on record
 * (who revoked it, when) so the audit log's actors still resolve.
 *
 * Redis: `<prefix>:auth:token:<id>` (hash), `<prefix>:auth:tokens` (set of ids).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError, InputError } from '../../common/index.ts';
import { isRole, type Role, type Scopes } from './roles.ts';

export interface TokenRecord {
  id: string;
  owner: string;
  role: Role;
  scopes: Scopes;
  createdAt: string;
  /** ISO; absent: never expires. */
  expiresAt?: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
}

export interface CreateTokenOptions {
  owner: string;
  role: Role;
  scopes?: Partial<Scopes>;
  /** From now. @defaultValue 30 days */
  expiresInMs?: number;
  /** Who creates it (the admin's owner, or `system` for the first one). */
  createdBy: string;
  now?: Date;
}

export const DEFAULT_TOKEN_LIFETIME_MS = 30 * 86_400_000;
const TOKEN_RE = /^drt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const OWNER_RE = /^[\w.@+-]{1,100}$/;
const SCOPE_NAME_RE = /^[\w.-]{1,200}$/;

const keys = (prefix: string, id = '') => ({
  token: `${prefix}:auth:token:${id}`,
  all: `${prefix}:auth:tokens`,
});

const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Create a token: the record stored, and the token itself (shown once, never stored). */
export async function createToken(
  redis: Redis,
  prefix: string,
  options: CreateTokenOptions,
): Promise<{ token: string; record: TokenRecord }> {
  if (!OWNER_RE.test(options.owner)) {
    throw new InputError(
      'BAD_OWNER',
      `token owner '${options.owner}' is not a name (letters, digits, . _ @ + -, at most 100)`,
    );
  }
  const scopes: Scopes = { plans: options.scopes?.plans ?? [], sites: options.scopes?.sites ?? [] };
  for (const name of [...scopes.plans, ...scopes.sites]) {
    if (!SCOPE_NAME_RE.test(name)) {
      throw new InputError('BAD_SCOPE', `scope '${name}' is not a plan or site name`);
    }
  }
  const lifetime = options.expiresInMs ?? DEFAULT_TOKEN_LIFETIME_MS;
  if (!Number.isSafeInteger(lifetime) || lifetime <= 0) {
    throw new InputError('BAD_EXPIRY', 'a token expires after a positive duration, e.g. --expires 30d');
  }
  const now = options.now ?? new Date();
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id,
    owner: options.owner,
    role: options.role,
    scopes,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + lifetime).toISOString(),
    createdBy: options.createdBy,
  };
  await redis
    .multi()
    .hset(keys(prefix, id).token, { ...encode(record), secret: digest(secret).toString('hex') })
    .sadd(keys(prefix).all, id)
    .exec();
  return { token: `drt_${id}_${secret}`, record };
}

/**
 * The first admin token of a vault (`drctl vault init`, `drctl up`): owner `admin` unless given,
 * created by `system`, a year's lifetime unless given.
 */
export async function createFirstAdminToken(
  redis: Redis,
  prefix: string,
  options: { owner?: string; expiresInMs?: number } = {},
): Promise<{ token: string; record: TokenRecord }> {
  return await createToken(redis, prefix, {
    owner: options.owner ?? 'admin',
    role: 'admin',
    expiresInMs: options.expiresInMs ?? 365 * 86_400_000,
    createdBy: 'system',
  });
}

export type TokenCheck =
  | { ok: true; record: TokenRecord }
  | {
      ok: false;
      code: 'TOKEN_MALFORMED' | 'TOKEN_UNKNOWN' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED';
      detail: string;
    };

/** Check a presented token: malformed, unknown, wrong secret, expired and revoked all refused. */
export async function checkToken(
  redis: Redis,
  prefix: string,
  token: string,
  now = new Date(),
): Promise<TokenCheck> {
  const match = TOKEN_RE.exec(token);
  if (match === null) {
    return { ok: false, code: 'TOKEN_MALFORMED', detail: 'the bearer token is not a drctl token (drt_…)' };
  }
  const [, id = '', secret = ''] = match;
  const fields = await redis.hgetall(keys(prefix, id).token);
  const stored = Buffer.from(fields.secret ?? '', 'hex');
  const given = digest(secret);
  if (stored.length !== given.length || !timingSafeEqual(stored, given)) {
    return { ok: false, code: 'TOKEN_UNKNOWN', detail: 'the bearer token is not one this vault issued' };
  }
  return refusalOf(decode(fields), id, now);
}

/**
 * A token's record by id, as checkToken would judge it now (revoked, expired, or gone): what a
 * dashboard session re-reads on every request, so revoking the token ends its sessions.
 */
export async function checkTokenId(
  redis: Redis,
  prefix: string,
  id: string,
  now = new Date(),
): Promise<TokenCheck> {
  const fields = await redis.hgetall(keys(prefix, id).token);
  if (fields.id === undefined) {
    return { ok: false, code: 'TOKEN_UNKNOWN', detail: `token ${id} is no longer in this vault` };
  }
  return refusalOf(decode(fields), id, now);
}

function refusalOf(record: TokenRecord, id: string, now: Date): TokenCheck {
  if (record.revokedAt !== undefined) {
    return {
      ok: false,
      code: 'TOKEN_REVOKED',
      detail: `token ${id} (${record.owner}) was revoked at ${record.revokedAt}; ask an admin for a new one`,
    };
  }
  if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now.getTime()) {
    return {
      ok: false,
      code: 'TOKEN_EXPIRED',
      detail: `token ${id} (${record.owner}) expired at ${record.expiresAt}; ask an admin for a new one (drctl token create)`,
    };
  }
  return { ok: true, record };
}

export async function listTokens(redis: Redis, prefix: string): Promise<TokenRecord[]> {
  const ids = await redis.smembers(keys(prefix).all);
  const records = await Promise.all(ids.map((id) => redis.hgetall(keys(prefix, id).token)));
  return records
    .filter((fields) => fields.id !== undefined)
    .map(decode)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revoke by id (or by the whole token): effective on the next request that presents it. */
export async function revokeToken(
  redis: Redis,
  prefix: string,
  idOrToken: string,
  by: string,
  now = new Date(),
): Promise<TokenRecord> {
  const id = TOKEN_RE.exec(idOrToken)?.[1] ?? idOrToken;
  const key = keys(prefix, id).token;
  const fields = await redis.hgetall(key);
  if (fields.id === undefined) {
    throw new DrError('TOKEN_NOT_FOUND', `no token ${id}; \`drctl token list\` shows them`, { exitCode: 2 });
  }
  const record = decode(fields);
  if (record.revokedAt !== undefined) return record;
  const revokedAt = now.toISOString();
  await redis.hset(key, { revokedAt, revokedBy: by });
  return { ...record, revokedAt, revokedBy: by };
}

function encode(record: TokenRecord): Record<string, string> {
  return {
    id: record.id,
    owner: record.owner,
    role: record.role,
    scopes: JSON.stringify(record.scopes),
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
  };
}

function decode(fields: Record<string, string>): TokenRecord {
  const role = fields.role ?? '';
  if (!isRole(role)) {
    throw new DrError('TOKEN_CORRUPT', `token ${fields.id ?? '?'} has no valid role in the vault`);
  }
  const scopes = JSON.parse(fields.scopes ?? '{"plans":[],"sites":[]}') as Scopes;
  return {
    id: fields.id ?? '',
    owner: fields.owner ?? '',
    role,
    scopes: { plans: scopes.plans ?? [], sites: scopes.sites ?? [] },
    createdAt: fields.createdAt ?? '',
    createdBy: fields.createdBy ?? '',
    ...(fields.expiresAt === undefined ? {} : { expiresAt: fields.expiresAt }),
    ...(fields.revokedAt === undefined ? {} : { revokedAt: fields.revokedAt }),
    ...(fields.revokedBy === undefined ? {} : { revokedBy: fields.revokedBy }),
  };
}
