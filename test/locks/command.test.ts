import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLocks, markFailedOver, readPlanLock } from '../../engine/locks/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const run = promisify(execFile);
const drctl = async (args: string[], env: NodeJS.ProcessEnv) => {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
};

describe('drctl locks', () => {
  const redis = testRedisClient();
  afterAll(async () => {
    await redis.quit();
  });

  it("shows the holders and frees a dead execution's locks", async () => {
    const prefix = uniquePrefix('cmd');
    await acquireLocks(redis, prefix, {
      execution: 'e-dead',
      plan: 'erp',
      vms: ['sql-01'],
      operation: 'planned',
    });
    await markFailedOver(redis, prefix, ['sql-01'], {
      plan: 'erp',
      execution: 'e-dead',
      site: 'dc-west',
      direction: 'forward',
      at: '',
    });
    const env = { REDIS_URL: testRedisUrl() };
    const shown = await drctl(
      ['locks', 'show', '--plan', 'erp', '--vms', 'sql-01,app-01', '--prefix', prefix],
      env,
    );
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('plan erp: execution e-dead (plan erp, planned');
    expect(shown.stdout).toContain('vm sql-01: execution e-dead');
    expect(shown.stdout).toContain('failed over to dc-west by plan erp');
    expect(shown.stdout).toContain('vm app-01: free');
    const released = await drctl(
      ['locks', 'release', '--plan', 'erp', '--vms', 'sql-01', '--prefix', prefix, '--json'],
      env,
    );
    expect(released.code).toBe(0);
    expect((JSON.parse(released.stdout) as { released: unknown[] }).released).toHaveLength(2);
    expect(await readPlanLock(redis, prefix, 'erp')).toBeUndefined();
    expect((await drctl(['locks', 'release', '--prefix', prefix], env)).code).toBe(2);
  });

  it('with neither --plan nor --vms, lists every lock held and every VM failed over under the prefix', async () => {
    // Regression: `drctl locks show` alone printed nothing. A glob character in the prefix is literal.
    const prefix = `${uniquePrefix('all')}[*]`;
    const other = uniquePrefix('all');
    await acquireLocks(redis, prefix, {
      execution: 'e-1',
      plan: 'erp',
      vms: ['sql-01', 'app-01'],
      operation: 'test',
    });
    await acquireLocks(redis, prefix, {
      execution: 'e-2',
      plan: 'crm',
      vms: ['crm-01'],
      operation: 'planned',
    });
    await markFailedOver(redis, prefix, ['web-09'], {
      plan: 'web',
      execution: 'e-0',
      site: 'dc-west',
      direction: 'forward',
      at: '',
    });
    await acquireLocks(redis, other, { execution: 'e-9', plan: 'hr', vms: ['hr-01'], operation: 'test' });
    await acquireLocks(redis, prefix.slice(0, -3), { execution: 'e-8', plan: 'fin', vms: ['fin-01'] });
    const env = { REDIS_URL: testRedisUrl() };
    const shown = await drctl(['locks', 'show', '--prefix', prefix], env);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trim().split('\n');
    expect(lines.map((line) => line.replace(/ \(plan .*$/, ''))).toEqual([
      'plan crm: execution e-2',
      'plan erp: execution e-1',
      'vm app-01: execution e-1',
      'vm crm-01: execution e-2',
      'vm sql-01: execution e-1',
      'vm web-09: free; failed over to dc-west by plan web (e-0)',
    ]);
    const json = JSON.parse((await drctl(['locks', 'show', '--prefix', prefix, '--json'], env)).stdout) as {
      plans: Record<string, unknown>;
      vms: Record<string, unknown>;
      failedOver: Record<string, unknown>;
    };
    expect(Object.keys(json.plans).sort()).toEqual(['crm', 'erp']);
    expect(Object.keys(json.vms).sort()).toEqual(['app-01', 'crm-01', 'sql-01']);
    expect(Object.keys(json.failedOver)).toEqual(['web-09']);
    const empty = await drctl(['locks', 'show', '--prefix', uniquePrefix('none')], env);
    expect(empty.stdout).toMatch(/^no locks held and no VM failed over/);
  });
});
