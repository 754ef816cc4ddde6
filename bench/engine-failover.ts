/**
 * A planned failover of a generated 10,000-VM plan (depth 10, boot time 0), with the world, each
 * site's workers and the orchestrator in separate processes over HTTP and Redis. Prints wall time,
 * VMs/s, jobs per VM and Redis commands per VM (INFO commandstats delta). VMS=..., RUNS=...
 */
import { Queue } from 'bullmq';
import { bullOptions, CONTROL_QUEUE, readAllEvents, siteQueueName } from '../engine/executor/index.ts';
import {
  commandsPerVm,
  median,
  orchestrationPlan,
  percentile,
  redisCommandCount,
  redisCommandStats,
  startStack,
  waitSettled,
} from './_engine-stack.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);
const { plan, hash } = orchestrationPlan(VMS);

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
    // MONITOR=1: count the commands clients send (round trips' worth; a script's own calls are
    // not), by command. MONITOR slows Redis: for the counts, not for the times.
    const sent = new Map<string, number>();
    const monitor = process.env.MONITOR ? await stack.redis.monitor() : undefined;
    monitor?.on('monitor', (_time: string, args: string[], source: string) => {
      if (source.includes('lua')) return;
      const name = (args[0] ?? '').toLowerCase();
      sent.set(name, (sent.get(name) ?? 0) + 1);
    });
    const cpuBefore = await stack.cpuMs();
    const submittedAt = Date.now();
    const { id } = await stack.client.submit({
      type: 'planned',
      plan,
      hash,
      reason: 'bench',
      approveManual: true,
    });
    const view = await waitSettled(stack.client, id);
    if (monitor) {
      monitor.disconnect();
      const total = [...sent.values()].reduce((a, b) => a + b, 0);
      const top = [...sent].sort((a, b) => b[1] - a[1]).slice(0, 10);
      process.stdout.write(
        `Commands sent by clients per VM (MONITOR): ${(total / VMS).toFixed(2)}; ${top.map(([c, n]) => `${c} ${(n / VMS).toFixed(2)}`).join(', ')}\n`,
      );
    }
    if (process.env.TIMELINE) {
      // Steps finished per second of the run, by kind (to see the phases and any stall).
      let first = Number.POSITIVE_INFINITY;
      const events = await readAllEvents(stack.redis, stack.prefix, id);
      for (const { event } of events) first = Math.min(first, Date.parse(event.at));
      const kinds = new Map<string, Map<number, number>>();
      for (const { event } of events) {
        if (event.type !== 'step-finished') continue;
        const kind = event.step.slice(event.step.lastIndexOf('/') + 1);
        const second = Math.floor((Date.parse(event.at) - first) / 1000);
        const row = kinds.get(kind) ?? new Map<number, number>();
        row.set(second, (row.get(second) ?? 0) + 1);
        kinds.set(kind, row);
      }
      const started = new Map<string, number>();
      const took = new Map<string, number[]>();
      for (const { event } of events) {
        if (event.type === 'step-started') started.set(event.step, Date.parse(event.at));
        if (event.type !== 'step-finished') continue;
        const kind = event.step.slice(event.step.lastIndexOf('/') + 1);
        const list = took.get(kind) ?? [];
        list.push(Date.parse(event.at) - (started.get(event.step) ?? Number.NaN));
        took.set(kind, list);
      }
      for (const [kind, list] of took) {
        process.stdout.write(
          `${kind}: step took median ${median(list)} ms, p99 ${percentile(list, 99)} ms\n`,
        );
      }
      for (const [kind, row] of kinds) {
        const line = [...row].sort((x, y) => x[0] - y[0]).map(([sec, n]) => `${sec}s:${n}`);
        process.stdout.write(`${kind} finished per second: ${line.join(' ')}\n`);
      }
    }
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
    // From the orchestrator's start (first dispatch), as before the users' RTO counted from submit.
    const wallMs = view.runMs ?? submitToDoneMs;
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
