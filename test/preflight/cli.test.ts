import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLocks } from '../../engine/locks/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import type { PreflightReport } from '../../engine/preflight/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const run = promisify(execFile);
const file = 'plans/examples/three-tier.yaml';

async function drctl(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { REDIS_URL: _ignored, ...base } = process.env;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'engine/cli/main.ts', ...args],
      {
        env: { ...base, ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('drctl preflight', () => {
  let world: World;
  let server: SimServer;
  beforeAll(async () => {
    const parsed = parsePlan(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`${file} does not parse`);
    world = worldForPlan(parsed.plan, { warmupMs: 5 * 3_600_000 });
    server = await startSimServer(world.api);
  });
  afterAll(async () => {
    await server.close();
    world.close();
  });

  it('prints the dry-run view and exits 0 when nothing blocks', async () => {
    const { code, stdout } = await drctl(['preflight', file, '--sim', server.url, '--type', 'test']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/sql-01\s+hv-dc-west-01\s+dc-west\.sql-01\.\d+ @/);
    expect(stdout).toContain('estimated RTO:');
    expect(stdout).toContain('locks: not checked');
  });

  it('exits 1 with located blockers for a subset whose dependencies are not running', async () => {
    const { code, stdout } = await drctl([
      'preflight',
      file,
      '--sim',
      server.url,
      '--type',
      'planned',
      '--vms',
      'web-01',
      '--json',
    ]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as PreflightReport;
    expect(report.blockers.map((b) => [b.code, b.path])).toEqual([
      ['DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', 'spec.vms[3].dependsOn[0]'],
      ['DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', 'spec.vms[3].dependsOn[1]'],
    ]);
    const line = readFileSync(file, 'utf8').split('\n')[(report.blockers[0]?.line ?? 0) - 1] ?? '';
    expect(line.slice((report.blockers[0]?.column ?? 1) - 1)).toMatch(/^app-01/);
  });

  it('reads the locks from REDIS_URL', async () => {
    const prefix = uniquePrefix('cli');
    const redis = testRedisClient();
    await acquireLocks(redis, prefix, {
      execution: 'e-other',
      plan: 'crm',
      vms: ['app-02'],
      operation: 'planned',
    });
    await redis.quit();
    const { code, stdout } = await drctl(
      ['preflight', file, '--sim', server.url, '--prefix', prefix, '--json'],
      {
        REDIS_URL: testRedisUrl(),
      },
    );
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as PreflightReport;
    expect(report.locksChecked).toBe(true);
    expect(report.blockers.map((b) => `${b.code}:${b.vm}`)).toEqual(['VM_LOCKED:app-02']);
  });

  it('exits 2 on a VM name that is not in the plan', async () => {
    const { code, stderr } = await drctl(['preflight', file, '--sim', server.url, '--vms', 'sql-1']);
    expect(code).toBe(2);
    expect(stderr).toContain("--vms names 1 VM(s) not in plan 'erp': sql-1");
  });
});
