/**
 * Reprotect of a 10,000-VM plan after its planned failover (generated plan, depth 10, boot time 0),
 * with the world, each site's workers and the orchestrator in separate processes over HTTP and
 * Redis (bench/_engine-stack.ts). The failover runs first (not measured here: bench/engine-failover.ts);
 * then `reprotect` is submitted and timed: submit (CAS on the failover + the execution stored),
 * every VM reversed with its resync size reported (last `<vm>/reprotect` step finished), and every
 * VM's reversed replication healthy (execution completed). VMS=..., RUNS=...
 */
import { readAllEvents, submitReprotect } from '../engine/executor/index.ts';
import { median, orchestrationPlan, startStack, waitSettled } from './_engine-stack.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);
const { plan, hash } = orchestrationPlan(VMS);

interface Row {
  failoverMs: number;
  submitMs: number;
  reversedMs: number;
  healthyMs: number;
  vmsPerS: number;
  resyncBytes: number;
  status: string;
}
const rows: Row[] = [];
/** CPU ms per VM of each process during the reprotect (less sensitive to a busy machine than wall time). */
const cpuRows: Record<string, string>[] = [];
for (let run = 1; run <= RUNS; run += 1) {
  const stack = await startStack(plan, { boot: '0-0', speed: 1 });
  try {
    const failoverStart = Date.now();
    const { id } = await stack.client.submit({ type: 'planned', plan, hash, reason: 'bench' });
    const failover = await waitSettled(stack.client, id);
    if (failover.status !== 'completed')
      throw new Error(`failover ${id} ended ${failover.status}: ${failover.error}`);
    const failoverMs = Date.now() - failoverStart;

    const cpuBefore = await stack.cpuMs();
    const t0 = Date.now();
    const submitted = await submitReprotect(stack.redis, stack.prefix, id, {
      by: 'bench',
      reason: 'bench',
      hosts: stack.inventory,
    });
    const submitMs = Date.now() - t0;
    const view = await waitSettled(stack.client, submitted.id);
    const healthyMs = Date.now() - t0;
    const cpuAfter = await stack.cpuMs();
    const cpuPerVm = Object.fromEntries(
      Object.entries(cpuAfter).map(([role, ms]) => [role, ((ms - (cpuBefore[role] ?? 0)) / VMS).toFixed(2)]),
    );
    cpuRows.push(cpuPerVm);
    let lastReversed = 0;
    let resyncBytes = 0;
    let reversed = 0;
    for (const { event } of await readAllEvents(stack.redis, stack.prefix, submitted.id)) {
      if (event.type !== 'step-finished' || !event.step.endsWith('/reprotect') || event.outcome !== 'done')
        continue;
      reversed += 1;
      lastReversed = Math.max(lastReversed, Date.parse(event.at));
      resyncBytes += Number(event.output?.resyncBytes ?? 0);
    }
    if (reversed !== VMS)
      throw new Error(`only ${reversed} of ${VMS} VMs reversed (${view.status}: ${view.error})`);
    rows.push({
      failoverMs,
      submitMs,
      reversedMs: lastReversed - t0,
      healthyMs,
      vmsPerS: Math.round((VMS / healthyMs) * 1000),
      resyncBytes,
      status: view.status,
    });
    process.stdout.write(
      `run ${run}: failover ${failoverMs} ms; reprotect ${view.status}: submitted in ${submitMs} ms, all reversed after ${lastReversed - t0} ms, all healthy after ${healthyMs} ms\n`,
    );
  } finally {
    await stack.close();
  }
}
console.table(rows);
console.log('CPU ms per VM during the reprotect, by process (each run):');
console.table(cpuRows);
console.table([
  {
    vms: VMS,
    runs: RUNS,
    'median submit (ms)': median(rows.map((r) => r.submitMs)),
    'median all reversed + resync reported (ms)': median(rows.map((r) => r.reversedMs)),
    'median all Normal (ms)': median(rows.map((r) => r.healthyMs)),
    'median VMs/s': median(rows.map((r) => r.vmsPerS)),
  },
]);
