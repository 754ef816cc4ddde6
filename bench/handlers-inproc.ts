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
import type { StepJobData } from '../engine/executor/index.ts';
import { createWorld, type VmSpec } from '../simulators/index.ts';

const { values } = parseArgs({
  options: { vms: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' } },
});
const VMS = Number(values.vms);
const RUNS = Number(values.runs);
const log = createLogger('bench', { level: 'error', pretty: false });

async function run(): Promise<{ wallMs: number; cpuMs: number; failed: number }> {
  const hosts = Math.ceil(VMS / 50);
  const host = (site: string, i: number): string => `${site}-h${i % hosts}`;
  const hostList = (site: string) =>
    Array.from({ length: hosts }, (_, i) => ({ name: host(site, i), maxConcurrentBoots: 8 }));
  const vms: VmSpec[] = Array.from({ length: VMS }, (_, i) => ({
    name: `vm-${i}`,
    site: 'dc-east',
    host: host('dc-east', i),
    boot: 2_000,
    replication: { site: 'dc-west', host: host('dc-west', i), frequencySec: 300 },
  }));
  const world = createWorld({
    clock: { mode: 'scaled', speed: 100 },
    sites: [
      { name: 'dc-east', hosts: hostList('dc-east') },
      { name: 'dc-west', hosts: hostList('dc-west') },
    ],
    links: [{ between: ['dc-east', 'dc-west'] }],
    vms,
  });
  world.advance(120_000);
  world.start();
  // The world's ticker does not keep the process alive on its own.
  const keepAlive = setInterval(() => {}, 1000);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const runs = await Promise.all(
    Array.from({ length: VMS }, (_, i) => {
      const vm = `vm-${i}`;
      const data: StepJobData = {
        v: 1,
        execution: 'bench',
        epoch: 1,
        type: 'unplanned',
        direction: 'forward',
        site: 'dc-west',
        fromSite: 'dc-east',
        toSite: 'dc-west',
        steps: [`${vm}/failover`, `${vm}/boot`, `${vm}/readiness`],
        vm,
        readiness: { checks: [{ kind: 'heartbeat' }], timeoutMs: 600_000, onTimeout: 'fail' },
        attempt: 1,
      };
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
