/**
 * Tokens for tests: an admin token (or any role's) created straight in the vault's Redis, as
 * `drctl vault init` and `drctl up` make the first one, and the header that carries it.
 */
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
