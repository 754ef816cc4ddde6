/**
 * The report of a 10,000-VM drill (target: ≤ 3 s to generate).
 *
 *   VMS=10000 RUNS=5 npx tsx bench/report-10k.ts
 *
 * Runs a real drill of the generated plan (depth 10, boot time 0) on the engine as production runs
 * it (bench/_engine-stack.ts: private Redis, the world, `drctl worker` per site, `drctl
 * orchestrator`), cleans it up, then generates its report RUNS times in this process, as
 * `drctl report` does on Redis: read the record, plan snapshot and event logs (the drill's and its
 * cleanup's), build, render, hash and record (`generateReport`). Then the same read → build →
 * render once more, phase by phase. Wall time, and the CPU time this process and Redis spent (the
 * figure that does not depend on what else the machine runs). KIND=planned benches a planned failover instead (no cleanup).
 */
import {
  buildReport,
  generateReport,
  readReportInput,
  renderReport,
  sha256,
} from '../engine/report/index.ts';
import { median, orchestrationPlan, startStack, waitSettled } from './_engine-stack.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 5);
const KIND = process.env.KIND === 'planned' ? 'planned' : 'test';

const { plan, hash } = orchestrationPlan(VMS);
const stack = await startStack(plan, { boot: '0-0', speed: 1 });
/** Redis's own CPU (user + sys, ms): its part of a report (XRANGE of the log) next to this process's. */
const redisCpuMs = async (): Promise<number> => {
  const info = await stack.redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1000;
};
try {
  const t0 = performance.now();
  const { id } = await stack.client.submit({ type: KIND, plan, hash, reason: 'bench', by: 'bench' });
  const view = await waitSettled(stack.client, id, 900_000);
  const expected = KIND === 'test' ? 'awaiting-cleanup' : 'completed';
  if (view.status !== expected) throw new Error(`${id} ended ${view.status}: ${view.error ?? ''}`);
  if (KIND === 'test') {
    const cleanup = await stack.client.cleanup(id, { reason: 'bench', by: 'bench' });
    const cleaned = await waitSettled(stack.client, cleanup.id, 900_000);
    if (cleaned.status !== 'completed') throw new Error(`${cleanup.id} ended ${cleaned.status}`);
  }
  process.stderr.write(
    `${KIND} ${id} of ${VMS} VMs ran in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );

  const rows: Record<string, string | number>[] = [];
  for (const format of ['html', 'json'] as const) {
    const times: number[] = [];
    const cpu: number[] = [];
    const redisCpu: number[] = [];
    let bytes = 0;
    let events = 0;
    for (let run = 0; run < RUNS; run += 1) {
      const before = { self: process.cpuUsage(), redis: await redisCpuMs() };
      const start = performance.now();
      const generated = await generateReport(stack.redis, stack.prefix, id, format);
      times.push(performance.now() - start);
      const used = process.cpuUsage(before.self);
      cpu.push((used.user + used.system) / 1000);
      redisCpu.push((await redisCpuMs()) - before.redis);
      bytes = Buffer.byteLength(generated.body);
      events = generated.report.timeline.length;
    }
    rows.push({
      what: `generateReport (${format})`,
      VMs: VMS,
      events,
      'size MB': (bytes / 1e6).toFixed(1),
      runs: RUNS,
      median: `${(median(times) / 1000).toFixed(2)} s`,
      min: `${(Math.min(...times) / 1000).toFixed(2)} s`,
      max: `${(Math.max(...times) / 1000).toFixed(2)} s`,
      'CPU here': `${(median(cpu) / 1000).toFixed(2)} s`,
      'CPU redis': `${(median(redisCpu) / 1000).toFixed(2)} s`,
    });
  }
  // One more, phase by phase (HTML).
  const p0 = performance.now();
  const input = await readReportInput(stack.redis, stack.prefix, id, Date.now());
  const p1 = performance.now();
  const report = buildReport(input);
  const p2 = performance.now();
  const body = renderReport(report, 'html');
  const p3 = performance.now();
  sha256(body);
  const p4 = performance.now();
  const phase = (what: string, ms: number) =>
    rows.push({ what: `  ${what}`, median: `${(ms / 1000).toFixed(2)} s` });
  phase('read record, plan, event logs', p1 - p0);
  phase('build', p2 - p1);
  phase('render HTML', p3 - p2);
  phase('SHA-256', p4 - p3);
  console.table(rows);
  console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
} finally {
  await stack.close();
}
