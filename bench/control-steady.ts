/**
 * The control plane at steady state (issue 11's figure: two agents of 10,000 VMs each, heartbeat
 * 1 s, inventory every 30-s cycle: ≤ 5 % of a core and ≤ 300 MB RSS). Each part is its own process:
 * a private Redis, the world (engine-sim-child.ts: a generated plan's two sites, every VM
 * replicating every 30 s on a real clock, so each cycle really changes every VM's record),
 * `drctl serve` and one `drctl agent` per site (10,000 VMs each: the primaries at dc-east, their
 * replicas at dc-west; 20,000 VM records in the vault). After both fulls landed and a warm-up,
 * it samples every second, over the window:
 *
 * - `drctl serve`: CPU (/proc/<pid>/stat utime + stime, % of one core), RSS (/proc/<pid>/status
 *   VmRSS: max and at the end), requests per second by route (/metrics,
 *   drorch_request_duration_seconds_count);
 * - Redis: CPU (INFO used_cpu_user + used_cpu_sys) and used_memory (max and end);
 * - each agent's CPU and the world's (context: they share the machine).
 *
 *   npx tsx bench/control-steady.ts            VMS=10000 WARMUP_S=40 MEASURE_S=180 RUNS=1
 *   PROFILE=<dir>: `drctl serve` runs under --cpu-prof (written to <dir> when it exits)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { siteKeys } from '../engine/control/inventory/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';
import { median, orchestrationPlan, processCpuMs } from './_engine-stack.ts';
import { type BenchVault, makeBenchVault } from './_vault.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const WARMUP_S = Number(process.env.WARMUP_S ?? 40);
const MEASURE_S = Number(process.env.MEASURE_S ?? 180);
const RUNS = Number(process.env.RUNS ?? 1);
const PREFIX = 'bench';

function waitForLine(child: ChildProcess, match: (line: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (match(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** drorch_request_duration_seconds_count summed by `METHOD route`. */
async function requestCounts(api: string, vault: BenchVault): Promise<Map<string, number>> {
  const text = await (await fetch(`${api}/metrics`, vault.trusted(api))).text();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^drorch_request_duration_seconds_count\{([^}]*)\} (\d+)/gm)) {
    const labels = match[1] ?? '';
    const route = /route="([^"]*)"/.exec(labels)?.[1] ?? '?';
    const method = /method="([^"]*)"/.exec(labels)?.[1] ?? '?';
    const key = `${method} ${route}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(match[2]));
  }
  return counts;
}

async function redisFigures(redis: Redis): Promise<{ cpuMs: number; usedMb: number }> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return {
    cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000,
    usedMb: field('used_memory') / 1024 / 1024,
  };
}

interface RunResult {
  serveCpu: number;
  serveRssMax: number;
  serveRssEnd: number;
  redisCpu: number;
  redisMemMax: number;
  redisMemEnd: number;
  agentCpu: Record<string, number>;
  worldCpu: number;
  rates: Map<string, number>;
  seconds: number;
  loadBefore: string;
  loadAfter: string;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

async function run(planFile: string, sites: readonly string[]): Promise<RunResult> {
  const server = await startPrivateRedis();
  const children: ChildProcess[] = [];
  const env = {
    ...process.env,
    REDIS_URL: server.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json',
  };
  const redis = new Redis(server.url);
  try {
    const world = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/engine-sim-child.ts', planFile, '0-0', '1'],
      {
        env,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    children.push(world);
    const simUrl = (await waitForLine(world, (l) => l.startsWith('READY '), 'the world')).slice(6).trim();
    const profile = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : [];
    // There is no mode without a vault: HTTPS, each agent registered (issue 12).
    const vault = await makeBenchVault(server.url, PREFIX);
    const serve = spawn(
      process.execPath,
      [
        ...profile,
        'bin/drctl.js',
        'serve',
        '--port',
        '0',
        '--prefix',
        PREFIX,
        '--vault-dir',
        vault.dir,
        '--json',
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(serve);
    const api = String(
      (JSON.parse(await waitForLine(serve, (l) => l.includes('"api"'), 'drctl serve')) as { api: string })
        .api,
    );
    const registers = await Promise.all(sites.map((site) => vault.registerArgs(site)));
    const agents = sites.map((site, i) => {
      const child = spawn(
        process.execPath,
        [
          'bin/drctl.js',
          'agent',
          '--site',
          site,
          '--hosts',
          simUrl,
          '--server',
          api,
          ...(registers[i] ?? []),
          '--json',
        ],
        { env: { ...env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      return { site, child, ready: waitForLine(child, (l) => l.includes('"ready"'), `agent ${site}`) };
    });
    await Promise.all(agents.map((a) => a.ready));
    // Warm-up: both fulls in the vault (a full's last part renames it live), then WARMUP_S more.
    const started = Date.now();
    for (;;) {
      const counts = await Promise.all(sites.map((s) => redis.hlen(siteKeys(PREFIX, s).vms)));
      if (counts.every((n) => n >= VMS)) break;
      if (Date.now() - started > 600_000) throw new Error(`fulls not in the vault after 10 min: ${counts}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    process.stderr.write(
      `fulls in after ${((Date.now() - started) / 1000).toFixed(0)} s; warm-up ${WARMUP_S} s\n`,
    );
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));

    const pid = serve.pid ?? 0;
    const loadBefore = load();
    const cpu0 = {
      serve: processCpuMs(pid),
      world: processCpuMs(world.pid ?? 0),
      agents: agents.map((a) => processCpuMs(a.child.pid ?? 0)),
    };
    const redis0 = await redisFigures(redis);
    const requests0 = await requestCounts(api, vault);
    const t0 = performance.now();
    let rssMax = rssMb(pid);
    let memMax = redis0.usedMb;
    let rssEnd = rssMax;
    let memEnd = memMax;
    while (performance.now() - t0 < MEASURE_S * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      rssEnd = rssMb(pid);
      memEnd = (await redisFigures(redis)).usedMb;
      rssMax = Math.max(rssMax, rssEnd);
      memMax = Math.max(memMax, memEnd);
    }
    const seconds = (performance.now() - t0) / 1000;
    const requests1 = await requestCounts(api, vault);
    const redis1 = await redisFigures(redis);
    const pct = (ms: number) => ms / 10 / seconds;
    const rates = new Map<string, number>();
    for (const [route, n] of requests1) rates.set(route, (n - (requests0.get(route) ?? 0)) / seconds);
    return {
      serveCpu: pct(processCpuMs(pid) - cpu0.serve),
      serveRssMax: rssMax,
      serveRssEnd: rssEnd,
      redisCpu: pct(redis1.cpuMs - redis0.cpuMs),
      redisMemMax: memMax,
      redisMemEnd: memEnd,
      agentCpu: Object.fromEntries(
        agents.map((a, i) => [a.site, pct(processCpuMs(a.child.pid ?? 0) - (cpu0.agents[i] ?? 0))]),
      ),
      worldCpu: pct(processCpuMs(world.pid ?? 0) - cpu0.world),
      rates,
      seconds,
      loadBefore,
      loadAfter: load(),
    };
  } finally {
    redis.disconnect();
    for (const child of children) {
      if (child.stdin) child.stdin.end();
      else child.kill('SIGTERM');
    }
    const hard = setTimeout(() => {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 15_000);
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise((r) => c.once('exit', r)),
      ),
    );
    clearTimeout(hard);
    await server.stop();
  }
}

const { plan } = orchestrationPlan(VMS);
const dir = mkdtempSync(join(tmpdir(), 'drorch-steady-'));
const planFile = join(dir, 'plan.json');
writeFileSync(planFile, JSON.stringify(plan));
const sites = [plan.source, plan.target];
const results: RunResult[] = [];
for (let i = 1; i <= RUNS; i++) {
  const result = await run(planFile, sites);
  results.push(result);
  process.stderr.write(
    `run ${i}: serve ${result.serveCpu.toFixed(2)} % of a core, RSS max ${result.serveRssMax.toFixed(0)} MB; load ${result.loadBefore} → ${result.loadAfter}\n`,
  );
}

/** A row: what, the median over the runs, each run's value, the target. */
const row = (what: string, values: number[], digits: number, target = ''): string[] => [
  what,
  median(values).toFixed(digits),
  values.map((v) => v.toFixed(digits)).join(' / '),
  target,
];
const rows: string[][] = [
  ['', 'median', 'runs', 'target'],
  row(
    'drctl serve CPU (% of one core)',
    results.map((r) => r.serveCpu),
    2,
    '≤ 5',
  ),
  row(
    'drctl serve RSS max (MB)',
    results.map((r) => r.serveRssMax),
    0,
    '≤ 300',
  ),
  row(
    'drctl serve RSS at the end (MB)',
    results.map((r) => r.serveRssEnd),
    0,
  ),
  row(
    'redis CPU (% of one core)',
    results.map((r) => r.redisCpu),
    2,
  ),
  row(
    'redis used_memory max (MB)',
    results.map((r) => r.redisMemMax),
    0,
  ),
  row(
    'redis used_memory at the end (MB)',
    results.map((r) => r.redisMemEnd),
    0,
  ),
  ...sites.map((site) =>
    row(
      `agent ${site} CPU (% of one core)`,
      results.map((r) => r.agentCpu[site] ?? 0),
      2,
    ),
  ),
  row(
    'world (simulator) CPU (% of one core)',
    results.map((r) => r.worldCpu),
    2,
  ),
];
const routes = [...new Set(results.flatMap((r) => [...r.rates.keys()]))].sort();
for (const route of routes) {
  const rates = results.map((r) => r.rates.get(route) ?? 0);
  if (median(rates) > 0) rows.push(row(`req/s ${route}`, rates, 2));
}
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
process.stdout.write(
  `control plane at steady state: ${sites.length} agents of ${VMS} VMs, heartbeat 1 s, 30-s inventory cycle; ` +
    `${results.length} run(s) of ${median(results.map((r) => r.seconds)).toFixed(0)} s after ${WARMUP_S} s warm-up\n`,
);
for (const cells of rows)
  process.stdout.write(
    `${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}\n`,
  );
process.stdout.write(
  `load (1/5/15 min) per run: ${results.map((r) => `${r.loadBefore} → ${r.loadAfter}`).join('; ')}\n`,
);
