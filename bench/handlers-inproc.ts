/**
 * The step handlers alone: N combined failover+boot+readiness jobs run by `runStepJob` against an
 * in-process simulated world (no queue, no HTTP, events discarded), all at once. Separates the
 * handlers' own cost from BullMQ, Redis and the simulator's HTTP API (bench/worker-jobs.ts).
 *
 *   npx tsx bench/handlers-inproc.ts [--vms 10000] [--runs 3]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createLogger } from '../engine/common/index.ts';
import { resolveHandlerOptions, runStepJob } from '../engine/executor/handlers/index.ts';
import { createWorld } from '../simulators/index.ts';
import { fleetFailoverJob, fleetVmName, fleetWorldSpec } from './_fleet.ts';

const { values } = parseArgs({
  options: { vms: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' } },
});
const VMS = Number(values.vms);
const RUNS = Number(values.runs);
const log = createLogger('bench', { level: 'error', pretty: false });

async function run(): Promise<{ wallMs: number; cpuMs: number; failed: number }> {
  const world = createWorld(fleetWorldSpec(VMS));
  world.advance(120_000);
  world.start();
  // An unplanned failover's case: the source site is lost (with it up, the failover would refuse to
  // start a replica next to its running, unfenced primary: SOURCE_STILL_RUNNING).
  world.fault({ kind: 'site-power', site: 'dc-east', state: 'off' });
  // The world's ticker does not keep the process alive on its own.
  const keepAlive = setInterval(() => {}, 1000);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const runs = await Promise.all(
    Array.from({ length: VMS }, (_, i) => {
      const vm = fleetVmName(i);
      const data = fleetFailoverJob('bench', vm);
      return runStepJob(`bench.${vm}`, data, {
        api: world.api,
        log,
        events: { append: async () => {} },
        options: resolveHandlerOptions(),
        signal: new AbortController().signal,
      });
    }),
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(keepAlive);
  world.close();
  const failed = runs.filter((r) => r.result.steps.some((s) => s.outcome !== 'done')).length;
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, failed };
}

const results = [];
for (let i = 0; i < RUNS; i++) results.push(await run());
console.log(
  `\nhandlers in-process: ${VMS} VMs × (failover + boot + readiness), simulator in the same process`,
);
console.log('| run | wall ms | CPU ms/job (handlers + simulator) | failed jobs |');
console.log('|---|---|---|---|');
results.forEach((r, i) => {
  console.log(`| ${i + 1} | ${r.wallMs.toFixed(0)} | ${(r.cpuMs / VMS).toFixed(3)} | ${r.failed} |`);
});
const median = results.map((r) => r.wallMs).sort((a, b) => a - b)[Math.floor(RUNS / 2)] ?? 0;
console.log(`| median | ${median.toFixed(0)} | | |`);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (${cpus().length} CPUs)`,
);
process.exit(results.every((r) => r.failed === 0) ? 0 : 1);
