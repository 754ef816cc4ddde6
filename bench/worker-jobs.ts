/**
 * Site-worker throughput: N combined failover+boot+readiness jobs (one per VM, unplanned, heartbeat
 * readiness) through `drctl worker` processes against a simulated world served over HTTP by another
 * process, on real Redis. Prints a table; the wall time runs from the first job added to the last
 * completion read from the completions stream. Checks the simulator's ledger afterwards: every VM
 * failed over once and started once.
 *
 *   npx tsx bench/worker-jobs.ts [--vms 10000] [--workers 2] [--concurrency 500] [--runs 3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  bullOptions,
  readCompletions,
  siteQueueName,
  stepJobId,
  stepJobOptions,
} from '../engine/executor/index.ts';
import { acquireRedis } from '../engine/redis/index.ts';
import { createSimClient } from '../simulators/index.ts';
import { fleetFailoverJob, fleetVmName } from './_fleet.ts';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    /** Write a CPU profile of each worker process into this folder. */
    profile: { type: 'string' },
  },
});
const VMS = Number(values.vms);
const WORKERS = Number(values.workers);
const CONCURRENCY = Number(values.concurrency);
const RUNS = Number(values.runs);

async function waitForLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) if (match(line)) return line;
  throw new Error(`child exited before it was ready (exit ${child.exitCode ?? child.signalCode})`);
}

/** CPU time (user + system) a live child has used so far, from /proc (Linux). */
function cpuMs(child: ChildProcess): number {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

interface RunResult {
  wallMs: number;
  workerCpuMs: number;
  simCpuMs: number;
  ok: boolean;
  detail: string;
}

async function run(redisUrl: string, index: number): Promise<RunResult> {
  const sim = spawn(process.execPath, ['--import', 'tsx', 'bench/worker-jobs-sim-server.ts', String(VMS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const simUrl = (await waitForLine(sim, (l) => l.startsWith('READY '))).slice('READY '.length);
  const prefix = `bench-w${index}-${Date.now()}`;
  const workers = Array.from({ length: WORKERS }, () =>
    spawn(
      process.execPath,
      [
        ...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []),
        'bin/drctl.js',
        'worker',
        '--site',
        'dc-west',
        '--sim',
        simUrl,
        '--prefix',
        prefix,
        '--concurrency',
        String(CONCURRENCY),
        '--json',
      ],
      {
        env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'error', LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  await Promise.all(workers.map((w) => waitForLine(w, (l) => l.includes('"ready":true'))));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(siteQueueName('dc-west'), { connection: redis, ...bullOptions(prefix) });
  const execution = `bench${index}`;
  const jobs = Array.from({ length: VMS }, (_, i) => {
    const vm = fleetVmName(i);
    const data = fleetFailoverJob(execution, vm);
    const jobId = stepJobId(execution, `${vm}/failover`);
    return { name: 'failover', data, opts: stepJobOptions(jobId) };
  });

  const workerCpuBefore = workers.reduce((sum, w) => sum + cpuMs(w), 0);
  const simCpuBefore = cpuMs(sim);
  const started = performance.now();
  for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
  let seen = 0;
  let failed = 0;
  let after = '0';
  while (seen < VMS) {
    const batch = await readCompletions(redis, prefix, execution, after, { blockMs: 1000, count: 5000 });
    for (const c of batch) {
      seen += 1;
      if (c.result.steps.some((s) => s.outcome !== 'done')) failed += 1;
    }
    after = batch.at(-1)?.id ?? after;
  }
  const wallMs = performance.now() - started;
  const workerCpuMs = workers.reduce((sum, w) => sum + cpuMs(w), 0) - workerCpuBefore;
  const simCpuMs = cpuMs(sim) - simCpuBefore;

  const client = createSimClient(simUrl);
  const truth = await client.truth();
  client.close();
  let wrong = 0;
  for (let i = 0; i < VMS; i++) {
    const ops = truth.mutations[`vm-${String(i).padStart(5, '0')}`]?.['dc-west'] ?? {};
    const refused = truth.refused[`vm-${String(i).padStart(5, '0')}`]?.['dc-west']?.HOST_BOOT_LIMIT ?? 0;
    if (ops['startVMFailover.failover'] !== 1 || (ops.startVM ?? 0) - refused !== 1) wrong += 1;
  }
  await queue.close();
  redis.disconnect();
  await Promise.all(workers.map((w) => stop(w)));
  sim.stdin?.end();
  await stop(sim);
  return {
    wallMs,
    workerCpuMs,
    simCpuMs,
    ok: failed === 0 && wrong === 0,
    detail: `failed steps ${failed}, VMs not failed over+started exactly once ${wrong}, boot-limit refusals ${truth.bootLimitRefusals}`,
  };
}

const redis = await acquireRedis();
const results: RunResult[] = [];
try {
  for (let i = 0; i < RUNS; i++) results.push(await run(redis.url, i));
} finally {
  await redis.release();
}
const sorted = results.map((r) => r.wallMs).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
console.log(
  `\nworker jobs: ${VMS} VMs × (failover + boot + readiness), ${WORKERS} worker processes × concurrency ${CONCURRENCY}`,
);
console.log('| run | wall ms | jobs/s | worker CPU ms/job | simulator CPU ms/job | ledger check |');
console.log('|---|---|---|---|---|---|');
results.forEach((r, i) => {
  const perJob = (ms: number): string => (ms / VMS).toFixed(2);
  console.log(
    `| ${i + 1} | ${r.wallMs.toFixed(0)} | ${((VMS * 1000) / r.wallMs).toFixed(0)} | ${perJob(r.workerCpuMs)} | ${perJob(r.simCpuMs)} | ${r.ok ? 'ok' : 'FAILED'}: ${r.detail} |`,
  );
});
console.log(`| median | ${median.toFixed(0)} | ${((VMS * 1000) / median).toFixed(0)} | | | |`);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (${cpus().length} CPUs)`,
);
process.exit(results.every((r) => r.ok) ? 0 : 1);
