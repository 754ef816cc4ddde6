/**
 * What the pre-flight gate adds to submitting a run of the generated 10,000-VM plan.
 *
 *   npx tsx bench/gate-submit.ts [vms=10000] [runs=5]
 *
 * The world runs in a child process behind the simulator's HTTP server (bench/preflight-sim-server.ts);
 * this process is the client. Three modes, each on a fresh key prefix (no orchestrator: the figure
 * is the submit, not the run):
 * - `store only`: compile the plan and store the execution (what a submit did before the gate);
 * - `gated submit`: `client.submit` as every drill and failover now runs it: pre-flight over HTTP
 *   with the lock reads, the atomic acquire of the plan lock and 10,000 VM locks, compile, store,
 *   persist the locks;
 * - `two at once`: two clients submit the same plan at the same moment; exactly one may pass.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { createRedisExecutionClient, type ExecutionClient } from '../engine/client/index.ts';
import { submitExecution } from '../engine/executor/index.ts';
import { acquireLocks } from '../engine/locks/index.ts';
import { compilePlan, generatePlan, parsePlan } from '../engine/plan/index.ts';
import { PreflightBlockedError } from '../engine/preflight/index.ts';
import { acquireRedis } from '../engine/redis/index.ts';
import { createSimClient } from '../simulators/index.ts';

const vmCount = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);

const parsed = parsePlan(generatePlan({ vms: vmCount, depth: 5, seed: 1 }), 'generated.yaml');
if (!parsed.ok) throw new Error('generated plan is invalid');
// No workers run here, so no site serves a script catalog: script actions would be refused by
// pre-flight (NO_SCRIPT_CATALOG). They were never checked by this bench (no catalog was given).
const { hash } = parsed;
const plan = {
  ...parsed.plan,
  actions: parsed.plan.actions.filter((a) => a.run.type !== 'script' && a.undo?.type !== 'script'),
};

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
const sites = createSimClient(url);
const clientFor = (prefix: string): ExecutionClient =>
  createRedisExecutionClient({ redisUrl: redisHandle.url, prefix, compile: compilePlan, inventory: sites });

interface Row {
  mode: string;
  run: number;
  ms: number;
  note: string;
}
const rows: Row[] = [];
const base = { type: 'planned' as const, plan, hash, reason: 'bench' };

for (let run = 0; run <= runs; run++) {
  const prefix = `bench-gate-${process.pid}-${run}`;
  // store only (the plan lock taken first, untimed: the store accepts a drill or failover only
  // with it held, i.e. after a gate)
  await acquireLocks(redis, `${prefix}-plain`, {
    execution: `plain-${run}`,
    plan: plan.metadata.name,
    vms: [],
  });
  let started = performance.now();
  const compiled = compilePlan(plan, { type: 'planned', direction: 'forward' });
  await submitExecution(redis, `${prefix}-plain`, {
    ...base,
    id: `plain-${run}`,
    direction: 'forward',
    by: 'bench',
    stepsTotal: compiled.steps.size,
    estimateMs: compiled.estimate.rtoMs,
  });
  const plainMs = performance.now() - started;
  // gated submit
  const client = clientFor(prefix);
  started = performance.now();
  const submitted = await client.submit(base).catch((error: unknown) => error as Error);
  const gatedMs = performance.now() - started;
  const gatedNote =
    submitted instanceof PreflightBlockedError
      ? `BLOCKED ${submitted.report.blockers.map((b) => b.code).join(',')}`
      : submitted instanceof Error
        ? `error ${submitted.message}`
        : `ok, ${submitted.preflight.stats.apiCalls} API calls, gather ${submitted.preflight.stats.gatherMs.toFixed(0)} ms`;
  await client.close();
  // two at once
  const a = clientFor(`${prefix}-race`);
  const b = clientFor(`${prefix}-race`);
  started = performance.now();
  const results = await Promise.allSettled([a.submit(base), b.submit(base)]);
  const raceMs = performance.now() - started;
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const lostCodes = lost.map((e) =>
    e instanceof PreflightBlockedError
      ? [...new Set(e.report.blockers.map((x) => x.code))].join('+')
      : String(e),
  );
  await Promise.all([a.close(), b.close()]);
  if (ok !== 1) throw new Error(`two at once: ${ok} submits passed (${lostCodes.join('; ')})`);
  if (run === 0) continue; // warm-up: connections, JIT
  rows.push({ mode: 'store only', run, ms: plainMs, note: `${compiled.steps.size} steps` });
  rows.push({ mode: 'gated submit', run, ms: gatedMs, note: gatedNote });
  rows.push({ mode: 'two at once', run, ms: raceMs, note: `1 passed, the other: ${lostCodes.join(', ')}` });
}

console.log(
  `submitting a planned failover of a ${vmCount}-VM plan — node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.table(rows.map((r) => ({ ...r, ms: Math.round(r.ms) })));
for (const mode of ['store only', 'gated submit', 'two at once']) {
  const values = rows
    .filter((r) => r.mode === mode)
    .map((r) => r.ms)
    .sort((x, y) => x - y);
  console.log(
    `${mode}: median ${values[Math.floor(values.length / 2)]?.toFixed(0)} ms over ${values.length} runs`,
  );
}

sites.close();
await redis.quit();
await redisHandle.release();
child.stdin.end();
await once(child, 'exit');
