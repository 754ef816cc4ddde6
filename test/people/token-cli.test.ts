/**
 * `drctl token create|list|revoke` as a user runs them: through a control plane with an admin's
 * token, and on the vault's Redis directly; what they print, and what the tokens then may do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { createLogger } from '../../engine/common/index.ts';
import {
  buildControlApp,
  type ControlApp,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { openAuditSigner } from '../../engine/control/vault/index.ts';
import { drctl } from '../cli/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';

const temp = useTempDirs();

describe('drctl token', { timeout: 120_000 }, () => {
  const redis = testRedisClient();
  // The vault of the prefix: the CLI on Redis audits with its key, which the key file opens.
  let vaultDir = '';
  const prefix = uniquePrefix('token-cli');
  let app: ControlApp;
  let url = '';
  let admin = '';
  beforeAll(async () => {
    vaultDir = temp('drorch-token-vault-');
    await ensureVault({ redis, prefix, dir: vaultDir });
    app = await buildControlApp(
      {
        auditSigner: await openAuditSigner({ redis, prefix, dir: vaultDir }),
        redis,
        redisUrl: testRedisUrl(),
        prefix,
        log: createLogger('test', { level: 'silent' }),
        metrics: createControlMetrics(),
        readiness: {},
      },
      { routes: controlRoutes },
    );
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    admin = await adminToken({ redis, prefix }, 'root-admin');
  });
  afterAll(async () => {
    await app?.close();
    redis.disconnect();
  });
  const status = async (token: string) =>
    (await fetch(`${url}/api/v1/executions`, { headers: bearer(token) })).status;

  it('creates a scoped token through the control plane, lists it without its secret, and revokes it', async () => {
    const created = await drctl(
      [
        'token',
        'create',
        '--role',
        'viewer',
        '--scope',
        'plan:erp',
        '--expires',
        '2h',
        '--owner',
        'carol',
        '--json',
      ],
      { env: { DR_SERVER: url, DR_TOKEN: admin } },
    );
    expect(created.code, created.stderr).toBe(0);
    const { token, record } = JSON.parse(created.stdout);
    expect(record).toMatchObject({
      owner: 'carol',
      role: 'viewer',
      scopes: { plans: ['erp'], sites: [] },
      createdBy: 'root-admin',
    });
    expect(Date.parse(record.expiresAt) - Date.parse(record.createdAt)).toBe(2 * 3_600_000);
    expect(await status(token)).toBe(200);

    const listed = await drctl(['token', 'list'], { env: { DR_SERVER: url, DR_TOKEN: admin } });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${record.id}\\s+carol\\s+viewer\\s+expires .*scopes plan:erp`));
    expect(listed.stdout).not.toContain(token.split('_')[2]);

    const revoked = await drctl(['token', 'revoke', token, '--token', admin, '--server', url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${record.id} (carol)`);
    expect(await status(token)).toBe(401);
  });

  it('refuses a viewer creating tokens (exit 2, the missing permission named), and a call with no token (exit 2)', async () => {
    const viewer = JSON.parse(
      (
        await drctl(['token', 'create', '--role', 'viewer', '--json'], {
          env: { DR_SERVER: url, DR_TOKEN: admin },
        })
      ).stdout,
    ).token as string;
    const refused = await drctl(['token', 'create', '--role', 'admin'], {
      env: { DR_SERVER: url, DR_TOKEN: viewer },
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('lacks token:manage');
    const anonymous = await drctl(['token', 'list'], { env: { DR_SERVER: url } });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/^drctl: GET \/api\/v1\/tokens needs a token/);
  });

  it('creates the first admin token on the vault Redis directly (no server), recording the OS user', async () => {
    const first = await drctl(
      ['token', 'create', '--role', 'admin', '--owner', 'ops', '--prefix', prefix, '--vault-dir', vaultDir],
      { env: { REDIS_URL: testRedisUrl() } },
    );
    expect(first.code, first.stderr).toBe(0);
    const token = first.stdout.trim();
    expect(token).toMatch(/^drt_[0-9a-f]{16}_/);
    expect(first.stderr).toContain('it is shown only now');
    expect(await status(token)).toBe(200);
    const bad = await drctl(['token', 'create', '--role', 'boss'], { env: { REDIS_URL: testRedisUrl() } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"boss" is not a role');
  });
});
