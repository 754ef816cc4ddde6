/**
 * The vault and an agent's registration in one call each, for what starts control planes and
 * agents itself (`drctl up`, the demo, tests, benchmarks): the same steps `drctl vault init`,
 * `drctl site register` and `drctl agent --register` take, in process.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type AgentIdentity, registerAgent } from '../agent/index.ts';
import { DrError } from '../common/index.ts';
import {
  createRegistrationKey,
  type InitResult,
  initVault,
  vaultFingerprint,
} from '../control/vault/index.ts';

/** `--vault-dir`, else DR_VAULT_DIR, else `$XDG_STATE_HOME/drorch/vault` (~/.local/state/…). */
export function vaultDirFrom(flag: string | undefined): string {
  return flag ?? (process.env.DR_VAULT_DIR || undefined) ?? join(stateHome(), 'drorch', 'vault');
}

/** `--state-dir`, else DR_AGENT_STATE_DIR, else `$XDG_STATE_HOME/drorch/agent`. */
export function agentStateDirFrom(flag: string | undefined): string {
  return flag ?? process.env.DR_AGENT_STATE_DIR ?? join(stateHome(), 'drorch', 'agent');
}

function stateHome(): string {
  return process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
}

/** The vault under `prefix`: made when there is none (with the key file in `dir`), else kept. */
export async function ensureVault(options: {
  redis: Redis;
  prefix: string;
  dir: string;
  firstAdminToken?: () => Promise<string>;
}): Promise<InitResult | undefined> {
  try {
    return await initVault(options);
  } catch (error) {
    if (error instanceof DrError && error.code === 'VAULT_EXISTS') return undefined;
    throw error;
  }
}

/** A registration key for `site`, traded at once by an agent identity saved in `agentDir`. */
export async function registerSiteAgent(options: {
  redis: Redis;
  prefix: string;
  server: string;
  site: string;
  agentDir: string;
}): Promise<AgentIdentity> {
  const fingerprint = await vaultFingerprint(options.redis, options.prefix);
  const { key } = await createRegistrationKey(options.redis, options.prefix, options.site, fingerprint);
  return registerAgent({ server: options.server, site: options.site, key, dir: options.agentDir });
}
