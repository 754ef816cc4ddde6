/**
 * Tokens for tests: an admin token (or any role's) created straight in the vault's Redis, as
 * `drctl vault init` and `drctl up` make the first one, and the header that carries it.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { createToken, type Role, type Scopes } from '../../engine/control/auth/index.ts';

/** What holds a vault: a ControlPlane (its ctx), a ControlContext, or its Redis and prefix. */
export type VaultRef = { ctx: { redis: Redis; prefix: string } } | { redis: Redis; prefix: string };

const vaultOf = (ref: VaultRef) => ('ctx' in ref ? ref.ctx : ref);

export async function tokenFor(
  ref: VaultRef,
  role: Role = 'admin',
  options: { owner?: string; scopes?: Partial<Scopes>; expiresInMs?: number } = {},
): Promise<string> {
  const { redis, prefix } = vaultOf(ref);
  const { token } = await createToken(redis, prefix, {
    owner: options.owner ?? `test-${role}`,
    role,
    createdBy: 'test',
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    ...(options.expiresInMs === undefined ? {} : { expiresInMs: options.expiresInMs }),
  });
  return token;
}

/** An admin token for an in-process control app (startControlPlane's or buildControlApp's). */
export async function adminToken(ref: VaultRef, owner = 'test-admin'): Promise<string> {
  return await tokenFor(ref, 'admin', { owner });
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

type Injector = { inject: (options: InjectOptions) => Promise<LightMyRequestResponse> };

/**
 * `app.inject` with an admin token of the app's vault: `authed(() => app, () => ctx)` in a file whose
 * app is built in beforeAll; each call carries `Authorization: Bearer` unless it sets its own.
 */
export function authed(
  app: () => Injector,
  ref: () => VaultRef,
): (options: string | InjectOptions) => Promise<LightMyRequestResponse> {
  let token: Promise<string> | undefined;
  return async (options) => {
    token ??= adminToken(ref());
    const given = typeof options === 'string' ? { url: options } : options;
    return await app().inject({ ...given, headers: { ...bearer(await token), ...given.headers } });
  };
}
