/**
 * Dispatch latency: from a VM's last dependency becoming ready (its `vm-phase ready` event) to the
 * VM's own first step that waits for it starting (`step-started` of its failover; its fence at the
 * source starts at once), over a chain of 100 VMs with boot time 0 (SHAPE=fan-in: 100 levels of
 * two VMs, each waiting for both of the level before), the world, workers and orchestrator in
 * separate processes, unplanned failover. Read from the event log after the run (event times have
 * millisecond resolution), with the hops in between: the dependency's completion in the
 * completions stream (its stream id is Redis's time), the job's creation by the orchestrator's
 * addBulk (BullMQ `timestamp`) and its move to active in the worker (`processedOn`), for the VMs
 * the orchestrator dispatched; the others were follow units, claimed (the completion's `c` field)
 * and started by the worker that ran their last dependency (StepGraph.followsOf). RUNS=... DEPTH=... SHAPE=chain|fan-in AGENTS=1 (through drctl serve + drctl agent)
 */
import { bullJobKey, executionKeys, readAllEvents, siteQueueName } from '../engine/executor/index.ts';
import { parsePlan } from '../engine/plan/index.ts';
import { median, percentile, startStack, waitSettled } from './_engine-stack.ts';

const DEPTH = Number(process.env.DEPTH ?? 100);
const RUNS = Number(process.env.RUNS ?? 3);
// chain: each VM waits for the one before; fan-in: levels of two VMs, each waiting for both VMs of
// the level before (DEPTH levels, so 2 × DEPTH VMs).
const SHAPE = process.env.SHAPE ?? 'chain';
if (SHAPE !== 'chain' && SHAPE !== 'fan-in') throw new Error(`SHAPE is chain or fan-in, not ${SHAPE}`);
const WIDTH = SHAPE === 'fan-in' ? 2 : 1;
const lines = [
  'apiVersion: dr/v1',
  'kind: RecoveryPlan',
  `metadata: { name: ${SHAPE} }`,
  'spec:',
  '  source: dc-east',
  '  target: dc-west',
  '  vms:',
];
const vmName = (level: number, i: number) =>
  `vm-${String(level).padStart(3, '0')}${WIDTH > 1 ? `-${i}` : ''}`;
for (let level = 0; level < DEPTH; level += 1) {
  for (let i = 0; i < WIDTH; i += 1) {
    const deps = level > 0 ? Array.from({ length: WIDTH }, (_, j) => vmName(level - 1, j)) : [];
    lines.push(
      `    - { name: ${vmName(level, i)}, bootEstimate: 0s${deps.length > 0 ? `, dependsOn: [${deps.join(', ')}]` : ''} }`,
    );
  }
}
const parsed = parsePlan(`${lines.join('\n')}\n`, `${SHAPE}.yaml`);
if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('\n'));
const plan = parsed.plan;

const all: number[] = [];
let byWorker = 0;
const followHops: Record<string, number>[] = [];
let byOrchestrator = 0;
const hops: Record<string, number>[] = [];
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
    const failoverStart = new Map<string, number>();
    for (const { event } of await readAllEvents(stack.redis, stack.prefix, id)) {
      if (event.type === 'vm-phase' && event.phase === 'ready') readyAt.set(event.vm, Date.parse(event.at));
      if (event.type === 'step-started' && event.step.endsWith('/failover')) {
        const vm = event.step.split('/')[0] ?? '';
        if (!failoverStart.has(vm)) failoverStart.set(vm, Date.parse(event.at));
      }
    }
    // When each step's result reached the completions stream (Redis time of the entry), the job
    // that carried it, and which steps a worker claimed as follow units (field `c`).
    const published = new Map<string, number>();
    const jobOf = new Map<string, string>();
    const claimed = new Set<string>();
    for (const [entry, fields] of await stack.redis.xrange(
      executionKeys(stack.prefix, id).completions,
      '-',
      '+',
    )) {
      const raw = fields[fields.indexOf('r') + 1] ?? '{}';
      const result = JSON.parse(raw) as { steps?: { id: string }[] };
      for (const step of result.steps ?? []) {
        if (!published.has(step.id)) published.set(step.id, Number(entry.split('-')[0]));
        jobOf.set(step.id, fields[fields.indexOf('j') + 1] ?? '');
      }
      const c = fields.indexOf('c');
      if (c >= 0)
        for (const unit of JSON.parse(fields[c + 1] ?? '[]') as string[][]) claimed.add(unit[0] ?? '');
    }
    const latencies: number[] = [];
    for (const { name: vm, dependsOn } of plan.vms) {
      if (dependsOn.length === 0) continue;
      // From the last of its dependencies to become ready.
      const depVm = dependsOn.reduce((a, b) => ((readyAt.get(b) ?? 0) > (readyAt.get(a) ?? 0) ? b : a));
      const dep = readyAt.get(depVm);
      const start = failoverStart.get(vm);
      if (dep === undefined || start === undefined) continue;
      latencies.push(start - dep);
      const completion = published.get(`${depVm}/readiness`);
      // Claimed by the worker that ran its (last) dependency: a follow unit.
      if (claimed.has(`${vm}/failover`)) {
        byWorker += 1;
        if (completion === undefined) continue;
        followHops.push({
          'ready → completion published with the claim': completion - dep,
          'claimed → step-started': start - completion,
        });
        continue;
      }
      byOrchestrator += 1;
      // The batch job the orchestrator sent it in.
      const [created, active] = await stack.redis.hmget(
        bullJobKey(stack.prefix, siteQueueName(plan.target), jobOf.get(`${vm}/failover`) ?? ''),
        'timestamp',
        'processedOn',
      );
      if (completion === undefined || !created || !active) continue;
      hops.push({
        'ready → completion published': completion - dep,
        'published → job added (orchestrator)': Number(created) - completion,
        'added → active (BullMQ worker)': Number(active) - Number(created),
        'active → step-started': start - Number(active),
      });
    }
    all.push(...latencies);
    rows.push({
      run,
      median: median(latencies),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      wallMs: view.runMs ?? 0, // from the first dispatch, comparable with earlier figures
    });
  } finally {
    await stack.close();
  }
}
console.table(rows);
console.log(
  `Started by the worker that ran the last dependency (follow units): ${byWorker}; sent by the orchestrator (in a batch job): ${byOrchestrator}`,
);
for (const [title, list] of [
  ['Hops of follow units (ms): median / p99 over all runs', followHops],
  ['Hops of jobs the orchestrator sent (ms): median / p99 over all runs', hops],
] as const) {
  if (list.length === 0) continue;
  console.log(title);
  console.table(
    Object.keys(list[0] ?? {}).map((name) => ({
      hop: name,
      median: median(list.map((h) => h[name] ?? 0)),
      p99: percentile(
        list.map((h) => h[name] ?? 0),
        99,
      ),
    })),
  );
}
console.table([
  {
    shape: SHAPE,
    vms: plan.vms.length,
    runs: RUNS,
    'median (ms)': median(all),
    'p99 (ms)': percentile(all, 99),
    'max (ms)': Math.max(...all),
  },
]);
