/**
 * Reaching Redis: a REDIS_URL that points at a closed port says "connection refused at <url>" and
 * what to check (it used to say "install Redis" to someone whose server is merely down); no Redis
 * at all keeps its one line with how to get one. Every command that needs Redis says the same.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../../engine/redis/index.ts';
import { drctl } from './support.ts';

describe('when REDIS_URL points at a closed port', { timeout: 60_000 }, () => {
  it.each([
    ['status', ['status']],
    ['locks show', ['locks', 'show']],
    ['approve', ['approve', 'x-1', 'confirm-san']],
    // pre-flight reads locks when REDIS_URL is set (it printed ioredis' own stack trace)
    ['preflight', ['preflight', 'plans/examples/three-tier.yaml', '--sim', 'http://127.0.0.1:1']],
  ])('%s says connection refused at the URL and what to check, exit 1', async (_name, args) => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const run = await drctl(args, { env: { REDIS_URL: url } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `drctl: connection refused at ${url} (REDIS_URL): nothing listens there; check that redis-server runs on that host and port (\`redis-cli -u ${url} ping\`) or fix REDIS_URL\n`,
    );
    expect(run.stderr).not.toContain('install');
  });
});

describe('when there is no Redis at all', { timeout: 60_000 }, () => {
  it('a command that needs one says how to get one, in one line, exit 1', async () => {
    // drctl serve: with no REDIS_URL, the other commands talk to the control plane instead.
    const run = await drctl(['serve', '--port', '0'], { env: { PATH: '/nonexistent' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^drctl: No Redis: set REDIS_URL to a Redis >= 7, or install one .*\(REDIS_URL is not set\)\n$/,
    );
  });

  it('the demo (which starts its own when it can) says redis-server is not on PATH and how to get one', async () => {
    const run = await drctl(['demo'], { env: { PATH: '/nonexistent' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^drctl: No Redis: .*apt-get install -y redis-server.*redis-server is not on PATH\)\n$/,
    );
  });
});
