/**
 * A vault for a bench's `drctl serve` (there is no mode without one, issue 12): made in a temp
 * folder on the bench's Redis, with what its agents register by and what its people-API calls
 * trust the server by.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { withTrust } from '../engine/client/index.ts';
import { createRegistrationKey, initVault, vaultFingerprint } from '../engine/control/vault/index.ts';

export interface BenchVault {
  /** `--vault-dir` of `drctl serve`. */
  dir: string;
  /** The vault's CA certificates (PEM). */
  ca: string;
  /** `drctl agent` flags that register `site` on its first start (its key saved under the bench's folder). */
  registerArgs(site: string): Promise<string[]>;
  /** fetch's init trusting the vault's CA for `url`. */
  trusted(url: string, init?: RequestInit): RequestInit;
}

export async function makeBenchVault(redisUrl: string, prefix: string, base?: string): Promise<BenchVault> {
  const root = base ?? mkdtempSync(join(tmpdir(), 'drorch-bench-vault-'));
  const dir = join(root, 'vault');
  const stateDir = join(root, 'agents');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    await initVault({ redis, prefix, dir });
  } finally {
    redis.disconnect();
  }
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  return {
    dir,
    ca,
    registerArgs: async (site) => {
      const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
      try {
        const { key } = await createRegistrationKey(r, prefix, site, await vaultFingerprint(r, prefix));
        return ['--state-dir', stateDir, '--register', key];
      } finally {
        r.disconnect();
      }
    },
    trusted: (url, init = {}) => withTrust(url, init, ca),
  };
}
