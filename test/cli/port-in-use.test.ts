import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';
import { drctl } from './support.ts';

const temp = useTempDirs();

describe('when the port a server is told to listen on is taken', () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('sim serve says so in one line and what to do (exit 1), no stack', async () => {
    const run = await drctl([
      'sim',
      'serve',
      '--for-plan',
      'plans/examples/three-tier.yaml',
      '--port',
      String(port),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `drctl: the simulator cannot listen on 127.0.0.1:${port}: something else listens there; stop it or give another --port (0 picks a free one)`,
    );
  });

  it('serve says so too, and stops what it started', async () => {
    // serve needs its vault before it listens.
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    const prefix = uniquePrefix('port');
    const vaultDir = temp('drorch-vault-');
    await ensureVault({ redis, prefix, dir: vaultDir });
    redis.disconnect();
    const run = await drctl(['serve', '--port', String(port), '--prefix', prefix, '--vault-dir', vaultDir], {
      env: { REDIS_URL: testRedisUrl() },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`drctl: the control plane cannot listen on 127.0.0.1:${port}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
