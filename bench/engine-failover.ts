/**
 * A planned failover of a generated 10,000-VM plan (depth 10, boot time 0), with the world, each
 * site's workers and the orchestrator in separate processes over HTTP and Redis. Prints wall time,
 * VMs/s, jobs per VM and Redis commands per VM (INFO commandstats delta). VMS=..., RUNS=...
 */
import { Queue } from 'bullmq';
import { bullOptions, CONTROL_QUEUE, siteQueueName } from '../engine/executor/index.ts';
import { generatePlan, parsePlan } from '../engine/plan/index.ts';
import {
  commandsPerVm,
  median,
  redisCommandCount,
  redisCommandStats,
  startStack,
  waitSettled,
} from './_engine-stack.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);
const parsed = parsePlan(generatePlan({ vms: VMS, depth: 10 }), `generated-${VMS}.yaml`);
if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('\n'));
// Orchestration only: no actions (scripts, webhooks, approvals), boots and readiness delays take no time.
const plan = { ...parsed.plan, actions: [] };
for (const vm of plan.vms) {
  vm.bootEstimateMs = 0;
  // Fixed waits (readiness `delay`) are the plan's, not orchestration: left out with the boot time.
  vm.readiness.checks = vm.readiness.checks.filter((c) => c.kind !== 'delay');
}

interface Row {
  wallMs: number;
  submitToDoneMs: number;
  vmsPerS: number;
  jobsPerVm: number;
  redisPerVm: number;
  status: string;
}
const rows: Row[] = [];
const cpuRows: Record<string, string>[] = [];
for (let run = 1; run <= RUNS; run += 1) {
  const stack = await startStack(plan, { boot: '0-0', speed: 1 });
  try {
    const before = await redisCommandCount(stack.redis);
    const statsBefore = await redisCommandStats(stack.redis);
    const cpuBefore = await stack.cpuMs();
    const submittedAt = Date.now();
    const { id } = await stack.client.submit({
      type: 'planned',
      plan,
      hash: parsed.hash,
      reason: 'bench',
      approveManual: true,
    });
    const view = await waitSettled(stack.client, id);
    const submitToDoneMs = Date.now() - submittedAt;
    const after = await redisCommandCount(stack.redis);
    const byCommand = commandsPerVm(statsBefore, await redisCommandStats(stack.redis), VMS);
    process.stdout.write(`Redis commands per VM, busiest first: ${JSON.stringify(byCommand)}\n`);
    const cpuAfter = await stack.cpuMs();
    const cpuPerVm = Object.fromEntries(
      Object.entries(cpuAfter).map(([role, ms]) => [role, ((ms - (cpuBefore[role] ?? 0)) / VMS).toFixed(2)]),
    );
    process.stdout.write(`CPU ms per VM by process: ${JSON.stringify(cpuPerVm)}\n`);
    cpuRows.push(cpuPerVm);
    let jobs = 0;
    for (const name of [siteQueueName(plan.source), siteQueueName(plan.target), CONTROL_QUEUE]) {
      const queue = new Queue(name, { connection: stack.redis, ...bullOptions(stack.prefix) });
      const counts = await queue.getJobCounts('completed', 'failed');
      jobs += (counts.completed ?? 0) + (counts.failed ?? 0);
      await queue.close();
    }
    const wallMs = view.rtoMs ?? submitToDoneMs;
    rows.push({
      wallMs,
      submitToDoneMs,
      vmsPerS: Math.round((VMS / wallMs) * 1000),
      jobsPerVm: jobs / VMS,
      redisPerVm: (after - before) / VMS,
      status: view.status,
    });
    process.stdout.write(
      `run ${run}: ${view.status} in ${wallMs} ms (submit→done ${submitToDoneMs} ms), ${jobs} jobs, ${after - before} Redis commands\n`,
    );
  } finally {
    await stack.close();
  }
}
console.table(rows);
console.log('CPU ms per VM, by process (each run):');
console.table(cpuRows);
console.table([
  {
    vms: VMS,
    runs: RUNS,
    'median wall (ms)': median(rows.map((r) => r.wallMs)),
    'median VMs/s': median(rows.map((r) => r.vmsPerS)),
    'jobs/VM': median(rows.map((r) => r.jobsPerVm)).toFixed(2),
    'Redis cmds/VM': median(rows.map((r) => r.redisPerVm)).toFixed(1),
  },
]);
