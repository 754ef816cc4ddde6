/**
 * Compile alone, warm, in one process: the CPU time of `compilePlan` on a generated plan, per
 * failover type, as a table (best and median of --runs compiles each). CPU rather than wall time:
 * on a shared, loaded machine the wall time mostly measures waiting for a core.
 *
 *   npx tsx bench/plan-compile-warm.ts [--vms 10000] [--depth 10] [--runs 10]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { compilePlan, generatePlan, parsePlan } from '../engine/plan/index.ts';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '10000' },
    depth: { type: 'string', default: '10' },
    runs: { type: 'string', default: '10' },
  },
});
const RUNS = Number(values.runs);
const parsed = parsePlan(
  generatePlan({ vms: Number(values.vms), depth: Number(values.depth), seed: 1 }),
  'g.yaml',
);
if (!parsed.ok) throw new Error(`generated plan is invalid: ${parsed.issues[0]?.message}`);

console.log(`compilePlan, warm, ${values.vms} VMs (depth ${values.depth}), ${RUNS} compiles per type`);
console.log('| type | steps | CPU best ms | CPU median ms |');
console.log('|---|---:|---:|---:|');
for (const type of ['unplanned', 'planned', 'test'] as const) {
  const cpu: number[] = [];
  let steps = 0;
  for (let i = 0; i < RUNS; i++) {
    const before = process.cpuUsage();
    steps = compilePlan(parsed.plan, { type }).steps.size;
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  const median = cpu[Math.floor(cpu.length / 2)] ?? 0;
  console.log(`| ${type} | ${steps} | ${(cpu[0] ?? 0).toFixed(0)} | ${median.toFixed(0)} |`);
}
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
