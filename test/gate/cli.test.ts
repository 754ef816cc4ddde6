/**
 * `drctl drill` / `drctl failover` as an operator runs them (a real process): `--dry-run` shows the
 * pre-flight with each VM's host, recovery point and the RTO estimate and starts nothing; a blocked
 * run lists every blocker as file:line:column and exits 1 with nothing stored; bad input exits 2.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadPlanSnapshot } from '../../engine/executor/index.ts';
import { readPlanLock } from '../../engine/locks/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import type { PreflightReport } from '../../engine/preflight/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { catalogWorker } from '../support/catalog-worker.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { footprint } from './support.ts';

const run = promisify(execFile);
const file = 'plans/examples/three-tier.yaml';
const lines = readFileSync(file, 'utf8').split('\n');

async function drctl(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { DR_SIM_URL: _sim, ...base } = process.env;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'engine/cli/main.ts', ...args],
      {
        env: { ...base, REDIS_URL: testRedisUrl(), ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// Each test spawns drctl a few times; on a loaded machine one spawn can take seconds.
describe('drctl drill / failover with the pre-flight gate', { timeout: 120_000 }, () => {
  let world: World;
  let server: SimServer;
  const redis = testRedisClient();
  beforeAll(async () => {
    const parsed = parsePlan(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`${file} does not parse`);
    world = worldForPlan(parsed.plan, { warmupMs: 5 * 3_600_000 });
    server = await startSimServer(world.api);
  });
  afterAll(async () => {
    await server.close();
    world.close();
    await redis.quit();
  });

  it('--dry-run: host, recovery point and RTO estimate per VM; nothing stored, no lock, no call', async () => {
    const prefix = uniquePrefix('gcli');
    const stop = await catalogWorker(prefix, world);
    onTestFinished(stop);
    const before = await footprint(redis, prefix, world);
    const text = await drctl([
      'failover',
      '--planned',
      file,
      '--dry-run',
      '--sim',
      server.url,
      '--prefix',
      prefix,
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("pre-flight of plan 'erp': planned failover dc-east → dc-west");
    // each VM on its replica host; a planned failover takes the latest point (even sql-01, whose
    // plan choice is latestAppConsistent), approximate (~): the final replication comes after
    expect(text.stdout).toMatch(/sql-01\s+hv-dc-west-01\s+dc-west\.sql-01\.latest @ \d{4}-\S+\s+\S.* ~/);
    expect(text.stdout).toMatch(/web-01\s+hv-dc-west-01\s+dc-west\.web-01\.latest @ \d{4}-/);
    expect(text.stdout).toMatch(
      /estimated RTO: \d+m \d+s simulated \(the plan's step estimates\), target 15m/,
    );
    expect(text.stdout).toContain('a planned failover replicates every VM up to its shutdown (no spread)');
    const unplanned = await drctl([
      'failover',
      '--unplanned',
      file,
      '--dry-run',
      '--sim',
      server.url,
      '--prefix',
      prefix,
    ]);
    // an exact point id per VM (one Get-VMSnapshot per VM in a dry run): sql-01 its app-consistent one
    expect(unplanned.stdout).toMatch(/sql-01\s+hv-dc-west-01\s+dc-west\.sql-01\.\d+ @ \d{4}-/);
    // how far apart the VMs would land, before anything starts (issue 10)
    expect(unplanned.stdout).toMatch(
      /recovery points: oldest \d{4}-\S+ \(\S+\), newest \d{4}-\S+ \(\S+\), spread \S+( \S+)? simulated over \d+ VM\(s\)/,
    );
    const json = await drctl(['drill', file, '--dry-run', '--json', '--sim', server.url, '--prefix', prefix]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as PreflightReport & { dryRun: boolean };
    expect(report.dryRun).toBe(true);
    expect(report.ok).toBe(true);
    expect(report.locksChecked).toBe(true);
    expect(report.placements.map((p) => [p.vm, p.host, p.network?.network])).toEqual([
      ['sql-01', 'hv-dc-west-01', 'drill-net'],
      ['app-01', 'hv-dc-west-01', 'drill-net'],
      ['app-02', 'hv-dc-west-01', 'drill-net'],
      ['web-01', 'hv-dc-west-01', 'drill-net'],
    ]);
    expect(report.placements.every((p) => p.recoveryPoint?.approximate === false)).toBe(true);
    expect(report.estimatedRtoMs).toBeGreaterThan(0);
    expect(await footprint(redis, prefix, world)).toEqual(before);
    expect(await readPlanLock(redis, prefix, 'erp')).toBeUndefined();
  });

  it('a subset whose dependency is not running: every blocker located, exit 1, nothing stored', async () => {
    const prefix = uniquePrefix('gcli');
    const stop = await catalogWorker(prefix, world);
    onTestFinished(stop);
    const before = await footprint(redis, prefix, world);
    const out = await drctl([
      'failover',
      '--planned',
      file,
      '--vms',
      'web-01',
      '--sim',
      server.url,
      '--prefix',
      prefix,
    ]);
    expect(out.code).toBe(1);
    const located = [...out.stdout.matchAll(/three-tier\.yaml:(\d+):(\d+): blocker (\w+)/g)];
    expect(located.map((m) => m[3])).toEqual([
      'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING',
      'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING',
    ]);
    // each points at the dependsOn entry it is about
    expect(located.map((m) => lines[Number(m[1]) - 1]?.slice(Number(m[2]) - 1, Number(m[2]) + 5))).toEqual([
      'app-01',
      'app-02',
    ]);
    expect(out.stdout).toContain('nothing was started');
    const json = await drctl([
      'failover',
      '--planned',
      file,
      '--vms',
      'web-01',
      '--json',
      '--sim',
      server.url,
      '--prefix',
      prefix,
    ]);
    expect(json.code).toBe(1);
    const blocked = JSON.parse(json.stdout) as { ok: boolean; code: string; preflight: PreflightReport };
    expect([blocked.ok, blocked.code]).toEqual([false, 'PREFLIGHT_BLOCKED']);
    expect(blocked.preflight.blockers.every((b) => b.line !== undefined && b.column !== undefined)).toBe(
      true,
    );
    expect(await footprint(redis, prefix, world)).toEqual(before);
  });

  it('submits a drill of a group of VMs, stores the sub-plan; the next run of the plan is refused (locked)', async () => {
    const prefix = uniquePrefix('gcli');
    const out = await drctl([
      'drill',
      file,
      '--vms',
      'sql-01,app-01',
      '--detach',
      '--json',
      '--sim',
      server.url,
      '--prefix',
      prefix,
    ]);
    expect(out.code).toBe(0);
    const submitted = JSON.parse(out.stdout) as {
      execution: string;
      vms: string[];
      preflight: PreflightReport;
    };
    expect(submitted.vms).toEqual(['sql-01', 'app-01']);
    expect(submitted.preflight.ok).toBe(true);
    const stored = await loadPlanSnapshot(redis, prefix, submitted.execution);
    expect(stored.vms.map((vm) => vm.name)).toEqual(['sql-01', 'app-01']);
    expect((await readPlanLock(redis, prefix, 'erp'))?.execution).toBe(submitted.execution);
    const again = await drctl(['drill', file, '--sim', server.url, '--prefix', prefix]);
    expect(again.code).toBe(1);
    const planLocked = /three-tier\.yaml:(\d+):(\d+): blocker PLAN_LOCKED/.exec(again.stdout);
    expect(lines[Number(planLocked?.[1]) - 1]).toContain('name: erp');
    expect(again.stdout).toContain(`drctl cleanup ${submitted.execution}`);
  });

  it('bad input exits 2 before anything is read: unknown VM, unknown group, no sites, unacceptable --accept', async () => {
    const prefix = uniquePrefix('gcli');
    const [unknown, group, noSim, accept] = await Promise.all([
      drctl(['drill', file, '--vms', 'sql-1', '--sim', server.url, '--prefix', prefix]),
      drctl(['drill', file, '--group', '3', '--sim', server.url, '--prefix', prefix]),
      drctl(['drill', file, '--prefix', prefix]),
      drctl(['drill', file, '--accept', 'VM_LOCKED', '--sim', server.url, '--prefix', prefix]),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--vms names 1 VM(s) not in plan 'erp': sql-1");
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('no ordered groups');
    expect(noSim.code).toBe(2);
    expect(noSim.stderr).toContain('--sim');
    expect(accept.code).toBe(2);
    expect(accept.stderr).toContain('cannot accept VM_LOCKED');
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });
});
