/**
 * Dashboard sessions: a person signs in once with a token (`POST /api/v1/session`) and the browser
 * carries an opaque cookie (`drctl_session`, HttpOnly, SameSite=Strict, Secure) in its place. The
 * session lives in Redis, keyed by the SHA-256 of the cookie's 256 random bits (a copy of Redis
 * holds no usable cookie), and names the token it stands for, never the token's secret. Every
 * request re-reads that token (checkTokenId): a revoked or expired token ends its sessions at once,
 * and a session never outlives its token (its Redis TTL is the earlier of the two).
 *
 * A change made with the cookie needs `X-CSRF-Token: <csrf>` (the value the sign-in answered, kept
 * by the page, never in a cookie), compared in constant time: a cross-site form can send the
 * cookie, never that header. Bearer calls need none (no browser sends a bearer by itself).
 *
 * Redis: `<prefix>:auth:session:<sha256 of the cookie>` (hash, expiring).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { checkTokenId, type TokenCheck, type TokenRecord } from './tokens.ts';

export const SESSION_COOKIE = 'drctl_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A session's longest life, whatever its token's. @defaultValue 12 h */
export const SESSION_LIFETIME_MS = 12 * 3_600_000;

export interface Session {
  /** The cookie's value: shown to the browser only. */
  cookie: string;
  csrf: string;
  token: TokenRecord;
  createdAt: string;
  expiresAt: string;
}

export type SessionCheck =
  | { ok: true; token: TokenRecord; csrf: string; expiresAt: string }
  | { ok: false; code: 'SESSION_UNKNOWN' | Extract<TokenCheck, { ok: false }>['code']; detail: string };

const COOKIE_RE = /^[A-Za-z0-9_-]{43}$/;
const keyOf = (prefix: string, cookie: string): string =>
  `${prefix}:auth:session:${createHash('sha256').update(cookie).digest('hex')}`;

/** A session for a checked token: it ends at the earlier of `lifetimeMs` from now and the token's expiry. */
export async function createSession(
  redis: Redis,
  prefix: string,
  token: TokenRecord,
  options: { lifetimeMs?: number; now?: Date } = {},
): Promise<Session> {
  const now = options.now ?? new Date();
  const lifetime = options.lifetimeMs ?? SESSION_LIFETIME_MS;
  const tokenEnds = token.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(token.expiresAt);
  const ends = Math.min(now.getTime() + lifetime, tokenEnds);
  const ttl = Math.max(1, ends - now.getTime());
  const cookie = randomBytes(32).toString('base64url');
  const csrf = randomBytes(32).toString('base64url');
  const session: Session = {
    cookie,
    csrf,
    token,
    createdAt: now.toISOString(),
    expiresAt: new Date(ends).toISOString(),
  };
  await redis
    .multi()
    .hset(keyOf(prefix, cookie), {
      token: token.id,
      csrf,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
    })
    .pexpire(keyOf(prefix, cookie), ttl)
    .exec();
  return session;
}

/** The session a cookie names, with its token as it stands now; a revoked token's session is deleted. */
export async function checkSession(
  redis: Redis,
  prefix: string,
  cookie: string,
  now = new Date(),
): Promise<SessionCheck> {
  const unknown = {
    ok: false,
    code: 'SESSION_UNKNOWN',
    detail: 'the dashboard session has ended or was never opened; sign in again with a token',
  } as const;
  if (!COOKIE_RE.test(cookie)) return unknown;
  const fields = await redis.hgetall(keyOf(prefix, cookie));
  if (fields.token === undefined || fields.csrf === undefined || fields.expiresAt === undefined)
    return unknown;
  if (Date.parse(fields.expiresAt) <= now.getTime()) return unknown;
  const check = await checkTokenId(redis, prefix, fields.token, now);
  if (!check.ok) {
    await redis.del(keyOf(prefix, cookie));
    return { ok: false, code: check.code, detail: `the session's ${check.detail}` };
  }
  return { ok: true, token: check.record, csrf: fields.csrf, expiresAt: fields.expiresAt };
}

export async function deleteSession(redis: Redis, prefix: string, cookie: string): Promise<void> {
  if (COOKIE_RE.test(cookie)) await redis.del(keyOf(prefix, cookie));
}

/** The CSRF header against the session's value, in constant time. */
export function csrfMatches(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}
