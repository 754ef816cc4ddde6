/**
 * Dispatch latency: from a VM's last dependency becoming ready (its `vm-phase ready` event) to the
 * VM's own first step starting (`step-started`), over a chain of 100 VMs with boot time 0, the
 * world, workers and orchestrator in separate processes. Read from the event log after the run
 * (event times have millisecond resolution). RUNS=...
 */
import { readAllEvents } from '../engine/executor/index.ts';
import { parsePlan } from '../engine/plan/index.ts';
import { median, percentile, startStack, waitSettled } from './_engine-stack.ts';

const DEPTH = Number(process.env.DEPTH ?? 100);
const RUNS = Number(process.env.RUNS ?? 3);
const lines = [
  'apiVersion: dr/v1',
  'kind: RecoveryPlan',
  'metadata: { name: chain }',
  'spec:',
  '  source: dc-east',
  '  target: dc-west',
  '  vms:',
];
for (let i = 0; i < DEPTH; i += 1) {
  const name = `vm-${String(i).padStart(3, '0')}`;
  lines.push(
    `    - { name: ${name}, bootEstimate: 0s${i > 0 ? `, dependsOn: [vm-${String(i - 1).padStart(3, '0')}]` : ''} }`,
  );
}
const parsed = parsePlan(`${lines.join('\n')}\n`, 'chain.yaml');
if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('\n'));
const plan = parsed.plan;

const all: number[] = [];
const rows: { run: number; median: number; p99: number; max: number; wallMs: number }[] = [];
for (let run = 1; run <= RUNS; run += 1) {
  const stack = await startStack(plan, { boot: '0-0', speed: 1 });
  try {
    const { id } = await stack.client.submit({
      type: 'unplanned',
      plan,
      hash: parsed.hash,
      reason: 'bench',
      recoveryPoint: { kind: 'latest' },
    });
    const view = await waitSettled(stack.client, id);
    const readyAt = new Map<string, number>();
    const firstStart = new Map<string, number>();
    for (const { event } of await readAllEvents(stack.redis, stack.prefix, id)) {
      if (event.type === 'vm-phase' && event.phase === 'ready') readyAt.set(event.vm, Date.parse(event.at));
      if (event.type === 'step-started') {
        const vm = event.step.split('/')[0] ?? '';
        if (!firstStart.has(vm)) firstStart.set(vm, Date.parse(event.at));
      }
    }
    const latencies: number[] = [];
    for (let i = 1; i < DEPTH; i += 1) {
      const dep = readyAt.get(plan.vms[i - 1]?.name ?? '');
      const start = firstStart.get(plan.vms[i]?.name ?? '');
      if (dep !== undefined && start !== undefined) latencies.push(start - dep);
    }
    all.push(...latencies);
    rows.push({
      run,
      median: median(latencies),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      wallMs: view.rtoMs ?? 0,
    });
  } finally {
    await stack.close();
  }
}
console.table(rows);
console.table([
  {
    chain: DEPTH,
    runs: RUNS,
    'median (ms)': median(all),
    'p99 (ms)': percentile(all, 99),
    'max (ms)': Math.max(...all),
  },
]);
