import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NO_REDIS_MESSAGE } from '../../engine/redis/index.ts';

function drctlWorker(env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const run = spawnSync(
    process.execPath,
    ['bin/drctl.js', 'worker', '--site', 'dc-west', '--sim', 'http://127.0.0.1:1'],
    { env, encoding: 'utf8', timeout: 30_000 },
  );
  return { status: run.status, stderr: run.stderr };
}

describe('drctl worker', () => {
  describe('without REDIS_URL', () => {
    it('fails with the one clear line', () => {
      const { REDIS_URL: _unset, ...env } = process.env;
      const run = drctlWorker(env);
      expect(run.status).toBe(1);
      expect(run.stderr.trim()).toBe(`drctl: ${NO_REDIS_MESSAGE} (REDIS_URL is not set)`);
    });
  });

  describe('when nothing answers at REDIS_URL', () => {
    it('says the connection was refused at that URL (not "install Redis")', () => {
      const run = drctlWorker({ ...process.env, REDIS_URL: 'redis://127.0.0.1:1' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('drctl: connection refused at redis://127.0.0.1:1 (REDIS_URL)');
      expect(run.stderr).not.toContain(NO_REDIS_MESSAGE);
    });
  });

  it('rejects a bad flag as bad input', () => {
    const run = spawnSync(process.execPath, ['bin/drctl.js', 'worker', '--site', 'dc-west'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--sim');
  });
});
