/**
 * What a command does straight on the vault's Redis (token create/revoke, site register/revoke,
 * vault rotate) goes on the audit record as the API's calls do: actor the OS user (whoever holds
 * the vault's Redis and key file is an admin already), signed with the vault's audit key, which
 * the key file of `--vault-dir` opens.
 */
import type { Redis } from 'ioredis';
import { whoAmI } from '../client/index.ts';
import { type AuditEntry, type AuditInput, type AuditLog, createAuditLog } from '../control/audit/index.ts';
import { openAuditSigner } from '../control/vault/index.ts';
import { vaultDirFrom } from './trust-setup.ts';

export async function directAuditLog(redis: Redis, prefix: string, vaultDir?: string): Promise<AuditLog> {
  return createAuditLog(redis, prefix, await openAuditSigner({ redis, prefix, dir: vaultDirFrom(vaultDir) }));
}

/** One entry for a command run on Redis: `drctl <command>` as its route, the OS user its actor. */
export async function auditDirect(
  redis: Redis,
  prefix: string,
  vaultDir: string | undefined,
  input: Omit<AuditInput, 'actor' | 'role' | 'route'> & { command: string },
): Promise<AuditEntry> {
  const { command, ...rest } = input;
  const log = await directAuditLog(redis, prefix, vaultDir);
  return log.append({ actor: whoAmI(), role: 'admin', route: `drctl ${command} (on Redis)`, ...rest });
}
