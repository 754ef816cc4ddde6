/**
 * The engine as production runs it, for benches: a private Redis, the world (engine-sim-child.ts),
 * one `drctl worker` process per site and one `drctl orchestrator`, talking over HTTP and Redis;
 * AGENTS=1: `drctl serve` and one `drctl agent` per site instead (the agents talk HTTP only):
 * over HTTPS with mTLS on a vault made here, each agent registered with a key (issue 12); TRUST=0
 * runs bench/control-plain-child.ts in serve's place (the same control plane built without its
 * vault through the internal API: plain HTTP, agent routes unguarded; `drctl serve` has no such
 * mode) for the with/without comparison.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedisExecutionClient, type ExecutionClient } from '../engine/client/index.ts';
import { createLogger } from '../engine/common/index.ts';
import { createFirstAdminToken } from '../engine/control/auth/index.ts';
import { startOrchestrator } from '../engine/executor/index.ts';
import { compilePlan, generatePlan, parsePlan } from '../engine/plan/index.ts';
import type { RecoveryPlan } from '../engine/plan/types.ts';
import type { HyperVReadApi } from '../engine/preflight/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';
import { createSimClient } from '../simulators/index.ts';
import { makeBenchVault } from './_vault.ts';

export interface Stack {
  /** CPU time (ms) used so far by each engine process: world, workers, orchestrator, redis. */
  cpuMs(): Promise<Record<string, number>>;
  redisUrl: string;
  prefix: string;
  simUrl: string;
  client: ExecutionClient;
  /** Read access to the world's hosts (what pre-flight reads). */
  inventory: HyperVReadApi;
  redis: Redis;
  /**
   * An admin API token of this stack's vault, for a bench that calls the people API (a `drctl
   * serve` of its own or AGENTS=1's): the agents' routes take none.
   */
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

function waitForLine(child: ChildProcess, match: (line: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) if (match(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

export async function startStack(
  plan: RecoveryPlan,
  /** `orchestrator: false`: none is started (a `drctl serve` the bench runs drives the executions). */
  options: { boot: string; speed: number; orchestrator?: boolean },
): Promise<Stack> {
  const server = await startPrivateRedis();
  const prefix = 'bench';
  const dir = mkdtempSync(join(tmpdir(), 'drorch-bench-'));
  const planFile = join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const children: ChildProcess[] = [];
  const env = {
    ...process.env,
    REDIS_URL: server.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json',
  };
  const sim = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/engine-sim-child.ts', planFile, options.boot, String(options.speed)],
    {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  children.push(sim);
  const simUrl = (await waitForLine(sim, (l) => l.startsWith('READY '), 'the world')).slice(6).trim();
  const roles = new Map<ChildProcess, string>([[sim, 'world']]);
  // PROFILE=<dir>: CPU profiles of the engine processes, agents included (written when they exit).
  const profile = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : [];
  const drctl = (args: string[]): ChildProcess => {
    const child = spawn(
      process.execPath,
      [...profile, 'bin/drctl.js', ...args, '--prefix', prefix, '--json'],
      {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(child);
    const role = args[0] === 'worker' ? `worker ${args[2] ?? ''}` : (args[0] ?? 'drctl');
    roles.set(child, role);
    // LOG_DIR=<dir>: each engine process's log lines in <dir>/<role>.log.
    if (process.env.LOG_DIR) {
      child.stdout?.pipe(createWriteStream(join(process.env.LOG_DIR, `${role.replace(' ', '-')}.log`)));
    }
    return child;
  };
  const concurrency = process.env.CONCURRENCY ?? '300';
  const ready: Promise<string>[] = [];
  let inproc: Awaited<ReturnType<typeof startOrchestrator>> | undefined;
  if (process.env.AGENTS === '1') {
    // AGENTS=1: the cloud shape. `drctl serve` (orchestrator, relays, control-side actions) and one
    // `drctl agent` per site, which reaches the control plane over HTTP only.
    const trust = process.env.TRUST !== '0';
    const vault = trust ? await makeBenchVault(server.url, prefix, dir) : undefined;
    let serve: ChildProcess;
    if (vault !== undefined) serve = drctl(['serve', '--port', '0', '--vault-dir', vault.dir]);
    else {
      serve = spawn(
        process.execPath,
        [...profile, '--import', 'tsx', 'bench/control-plain-child.ts', prefix],
        {
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(serve);
      roles.set(serve, 'serve');
    }
    const line = await waitForLine(serve, (l) => l.includes('"api"'), 'drctl serve');
    const api = String((JSON.parse(line) as { api: string }).api);
    for (const site of [plan.source, plan.target]) {
      const register = vault === undefined ? [] : await vault.registerArgs(site);
      const child = spawn(
        process.execPath,
        [
          ...profile,
          'bin/drctl.js',
          'agent',
          '--site',
          site,
          '--hosts',
          simUrl,
          '--server',
          api,
          '--concurrency',
          concurrency,
          ...register,
          '--json',
        ],
        { env: { ...env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      roles.set(child, `agent ${site}`);
      ready.push(waitForLine(child, (l) => l.includes('"ready"'), `agent ${site}`));
    }
  } else {
    ready.push(
      ...[plan.source, plan.target, 'control'].map((site) =>
        waitForLine(
          drctl(['worker', '--site', site, '--sim', simUrl, '--concurrency', concurrency]),
          (l) => l.includes('"ready"'),
          `worker ${site}`,
        ),
      ),
    );
    // ORCHESTRATOR=inproc: the orchestrator runs in this process (to profile it).
    if (options.orchestrator === false) {
      // The bench brings its own.
    } else if (process.env.ORCHESTRATOR === 'inproc') {
      const logger = createLogger('orchestrator', { level: 'warn', pretty: false });
      inproc = await startOrchestrator({ redisUrl: server.url, prefix, compile: compilePlan, logger });
    } else {
      const orchestrator = drctl(['orchestrator']);
      ready.push(waitForLine(orchestrator, (l) => l.includes('"orchestrator"'), 'orchestrator'));
    }
  }
  await Promise.all(ready);
  // The pre-flight every failover goes through reads the sites from the world.
  const inventory = createSimClient(simUrl);
  const client = createRedisExecutionClient({
    redisUrl: server.url,
    prefix,
    compile: compilePlan,
    inventory,
  });
  const redis = new Redis(server.url);
  const cpuMs = async (): Promise<Record<string, number>> => {
    const result: Record<string, number> = {};
    for (const [child, role] of roles) result[role] = child.pid ? processCpuMs(child.pid) : 0;
    if (inproc) result.orchestrator = process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
    const info = await redis.info('cpu');
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
    result.redis = (user + sys) * 1000;
    return result;
  };
  return {
    cpuMs,
    redisUrl: server.url,
    prefix,
    simUrl,
    client,
    inventory,
    redis,
    adminToken: async () => (await createFirstAdminToken(redis, prefix, { owner: 'bench' })).token,
    close: async () => {
      await client.close();
      inventory.close();
      await inproc?.close();
      redis.disconnect();
      for (const child of children) {
        if (child === sim) child.stdin?.end();
        else child.kill('SIGTERM');
      }
      // Bounded: whatever has not exited after 5 s is killed.
      const hard = setTimeout(() => {
        for (const child of children)
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, 5000);
      await Promise.all(
        children.map((c) =>
          c.exitCode !== null || c.signalCode !== null
            ? Promise.resolve()
            : new Promise((r) => c.once('exit', r)),
        ),
      );
      clearTimeout(hard);
      await server.stop();
    },
  };
}

/** utime + stime of a process, from /proc (Linux), in ms. */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Sum of `calls` over INFO commandstats. */
export async function redisCommandCount(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) total += Number(match[1]);
  return total;
}

/** `calls` per command from INFO commandstats (inside Lua scripts too). */
export async function redisCommandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
    stats.set(match[1] ?? '', Number(match[2]));
  return stats;
}

/** Commands per VM between two INFO commandstats readings, the busiest first. */
export function commandsPerVm(
  before: Map<string, number>,
  after: Map<string, number>,
  vms: number,
  top = 12,
): Record<string, string> {
  const delta = [...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0)] as const);
  delta.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(
    delta
      .filter(([, n]) => n > 0)
      .slice(0, top)
      .map(([name, n]) => [name, (n / vms).toFixed(2)]),
  );
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Wait until the execution settles; returns its view. */
export async function waitSettled(
  client: ExecutionClient,
  id: string,
  timeoutMs = 600_000,
): ReturnType<ExecutionClient['get']> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await client.get(id);
    if (!['submitted', 'running'].includes(view.status)) return view;
    if (Date.now() > deadline)
      throw new Error(`${id} did not finish in ${timeoutMs} ms (${view.stepsDone}/${view.stepsTotal})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A generated plan of `vms` VMs (depth 10) for measuring orchestration only: no actions (scripts,
 * webhooks, approvals), boots take no time, and fixed readiness waits (`delay`, the plan's, not
 * orchestration) are left out with them.
 */
export function orchestrationPlan(vms: number): { plan: RecoveryPlan; hash: string } {
  const parsed = parsePlan(generatePlan({ vms, depth: 10 }), `generated-${vms}.yaml`);
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('\n'));
  const plan = { ...parsed.plan, actions: [] };
  for (const vm of plan.vms) {
    vm.bootEstimateMs = 0;
    vm.readiness.checks = vm.readiness.checks.filter((c) => c.kind !== 'delay');
  }
  return { plan, hash: parsed.hash };
}
