/**
 * Pre-flight of the generated 10,000-VM plan over HTTP (figure: <= 2 s).
 *
 *   npx tsx bench/preflight-10k.ts [vms=10000] [runs=7]
 *
 * The simulated world runs in a child process behind the HTTP server (as `drctl sim serve` would);
 * this process is the orchestrator side: it reads the inventory through createSimClient and the
 * lock state from Redis (REDIS_URL, or a private redis-server), and decides. Three modes: `checks`
 * (what runs before every execution: recovery points listed only where the plan's choice needs
 * them), `dry-run` (the same plus the RTO estimate), `dry-run exact` (every VM's recovery points).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { acquireLocks, createLockReader, releaseLocks } from '../engine/locks/index.ts';
import { generatePlan, parsePlan } from '../engine/plan/index.ts';
import { type PreflightReport, runPreflight } from '../engine/preflight/index.ts';
import { acquireRedis } from '../engine/redis/index.ts';
import { createSimClient } from '../simulators/index.ts';

const vmCount = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 7);

const parsed = parsePlan(generatePlan({ vms: vmCount, depth: 5, seed: 1 }), 'generated.yaml');
if (!parsed.ok) throw new Error('generated plan is invalid');
const plan = parsed.plan;

const child = spawn(process.execPath, ['--import', 'tsx', 'bench/preflight-sim-server.ts', String(vmCount)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const match = /READY (\S+)/.exec(buffer);
    if (match?.[1] !== undefined) resolve(match[1]);
  });
  child.once('exit', (code) => reject(new Error(`sim server exited with ${code}`)));
});

const redisHandle = await acquireRedis();
const redis = new Redis(redisHandle.url, { maxRetriesPerRequest: null });
const prefix = `bench-preflight-${process.pid}`;
const client = createSimClient(url);

// Another execution holds one VM: the report must name it (one blocker), as in real life.
const lockedVm = plan.vms[plan.vms.length - 1]?.name ?? '';
await acquireLocks(redis, prefix, { execution: 'bench-other', plan: 'other', vms: [lockedVm] });
const lockStart = performance.now();
const all = await acquireLocks(redis, prefix, {
  execution: 'bench-lock',
  plan: 'bench-lock-plan',
  vms: plan.vms.slice(0, -1).map((vm) => `lock-${vm.name}`),
});
const lockMs = performance.now() - lockStart;
if (!all.ok) throw new Error('lock bench: unexpected conflict');

/** CPU ms (user + system) a process has used, from /proc (Linux); NaN elsewhere. */
function processCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

interface Row {
  mode: string;
  clientCpuMs: number;
  serverCpuMs: number;
  run: number;
  totalMs: number;
  gatherMs: number;
  evaluateMs: number;
  apiCalls: number;
  blockers: number;
}
const rows: Row[] = [];
const MODES = [
  // the checks an execution runs before it starts (its submit compiles the plan itself)
  { mode: 'checks', points: 'needed', estimate: false },
  // `drctl preflight` / --dry-run: the checks plus the RTO estimate of the selection
  { mode: 'dry-run', points: 'needed', estimate: true },
  // the dry run with every VM's exact recovery point (one Get-VMSnapshot per VM)
  { mode: 'dry-run exact', points: 'all', estimate: true },
] as const;
for (const { mode, points, estimate } of MODES) {
  for (let run = 0; run <= runs; run++) {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const serverBefore = processCpuMs(child.pid);
    const report: PreflightReport = await runPreflight({
      plan,
      api: client,
      type: 'unplanned',
      locks: createLockReader(redis, prefix),
      points,
      estimate,
    });
    const totalMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const clientCpuMs = (cpu.user + cpu.system) / 1000;
    const serverCpuMs = processCpuMs(child.pid) - serverBefore;
    // run 0 warms up connections and the JIT; it is not counted
    if (run === 0) continue;
    rows.push({
      mode,
      run,
      clientCpuMs,
      serverCpuMs,
      totalMs,
      gatherMs: report.stats.gatherMs,
      evaluateMs: report.stats.evaluateMs,
      apiCalls: report.stats.apiCalls,
      blockers: report.blockers.length,
    });
  }
}

const fmt = (n: number) => n.toFixed(0).padStart(8);
console.log(
  `pre-flight of a ${vmCount}-VM plan over HTTP — node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('mode            run  total ms  gather ms  eval ms  client CPU  server CPU  api calls  blockers');
for (const r of rows) {
  console.log(
    `${r.mode.padEnd(15)} ${String(r.run).padStart(3)} ${fmt(r.totalMs)}  ${fmt(r.gatherMs)}  ${fmt(r.evaluateMs).slice(1)}  ${fmt(r.clientCpuMs)}    ${fmt(r.serverCpuMs)}  ${String(r.apiCalls).padStart(9)}  ${String(r.blockers).padStart(8)}`,
  );
}
for (const { mode } of MODES) {
  const of = (pick: (r: Row) => number) => {
    const values = rows
      .filter((r) => r.mode === mode)
      .map(pick)
      .sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)] ?? Number.NaN;
  };
  const fastest = Math.min(...rows.filter((r) => r.mode === mode).map((r) => r.totalMs));
  console.log(
    `${mode}: median ${of((r) => r.totalMs).toFixed(0)} ms wall (fastest ${fastest.toFixed(0)} ms); ` +
      `median CPU: client ${of((r) => r.clientCpuMs).toFixed(0)} ms, server ${of((r) => r.serverCpuMs).toFixed(0)} ms` +
      ' (target <= 2000 ms wall)',
  );
}
console.log(`acquireLocks of ${vmCount} VM locks + plan lock, one script: ${lockMs.toFixed(0)} ms`);

await releaseLocks(redis, prefix, {
  execution: 'bench-lock',
  plan: 'bench-lock-plan',
  vms: plan.vms.map((vm) => `lock-${vm.name}`),
});
await releaseLocks(redis, prefix, { execution: 'bench-other', plan: 'other', vms: [lockedVm] });
client.close();
await redis.quit();
await redisHandle.release();
child.stdin.end();
await once(child, 'exit');
