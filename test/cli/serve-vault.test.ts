/**
 * There is no unauthenticated mode (issue 12): `drctl serve` without a vault, or with a key file
 * but no vault in Redis, is refused in one line naming `drctl vault init`, exit 2; it never falls
 * back to plain HTTP with the agents' routes unguarded. There is no flag that would.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';
import { drctl, startDrctl } from './support.ts';

const temp = useTempDirs();
const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.disconnect());

describe('drctl serve without a vault', { timeout: 60_000 }, () => {
  it('is refused naming `drctl vault init` when no --vault-dir, DR_VAULT_DIR or default vault exists', async () => {
    const state = temp('drorch-state-');
    const run = await drctl(['serve', '--port', '0', '--prefix', uniquePrefix('novault')], {
      env: { REDIS_URL: testRedisUrl(), XDG_STATE_HOME: state, DR_VAULT_DIR: '' },
    });
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(state, 'drorch', 'vault', 'vault.key'));
    expect(lines[0]).toContain('drctl vault init');
    expect(run.stdout).not.toContain('listening');
  });

  it('is refused when the folder has a key file but Redis holds no vault under the prefix', async () => {
    const dir = temp('drorch-vault-');
    await ensureVault({ redis, prefix: uniquePrefix('other'), dir });
    const prefix = uniquePrefix('uninit');
    const run = await drctl(['serve', '--port', '0', '--prefix', prefix, '--vault-dir', dir], {
      env: { REDIS_URL: testRedisUrl() },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `drctl: no vault under prefix '${prefix}' in this Redis: run \`drctl vault init\` first (or \`drctl vault restore\` from a backup)`,
    );
  });

  it('takes the vault of DR_VAULT_DIR and serves HTTPS only', async () => {
    const dir = temp('drorch-vault-');
    const prefix = uniquePrefix('envvault');
    await ensureVault({ redis, prefix, dir });
    const serve = startDrctl(['serve', '--port', '0', '--prefix', prefix, '--json'], {
      env: { REDIS_URL: testRedisUrl(), DR_VAULT_DIR: dir },
    });
    try {
      await serve.waitFor('"api"');
      const line = JSON.parse(serve.stdout().split('\n')[0] ?? '{}') as { api: string; ca: string };
      expect(line.api).toMatch(/^https:\/\//);
      expect(line.ca).toBe(join(dir, 'ca.pem'));
    } finally {
      serve.child.kill('SIGTERM');
      await serve.done;
    }
  });

  it('has no option that turns the vault off', async () => {
    const run = await drctl(['serve', '--help']);
    expect(run.stdout).not.toMatch(/insecure|no-vault|no-tls|plain/i);
  });
});
