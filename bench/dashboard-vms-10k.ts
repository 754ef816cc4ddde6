/**
 * `GET /api/v1/executions/:id/vms` (the dashboard's timeline rows, folded from the event log) for a
 * 10,000-VM planned failover: while it runs, and after it ended, cold and warm.
 *
 *   VMS=10000 npx tsx bench/dashboard-vms-10k.ts
 *
 * A real `drctl serve` process (API and the orchestrator driving the run share its event loop), the
 * world and each site's workers in processes of their own (bench/_engine-stack.ts, boot time 0).
 * While the run runs, this process asks for the rows every `EVERY_MS` (a page that reloads them).
 * Once it has ended, this process times a first reader's work with no saved fold (the plan compiled
 * for its waves, the whole log folded), then a second `drctl serve` (nothing in memory) answers
 * from the fold the first one saved, then `WARM` more (only the events after its cursor). Latency
 * is request to parsed answer, measured here, through the token gate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { shapeOf } from '../engine/control/routes/execution-vms.ts';
import { catchUp, newFold } from '../engine/control/routes/vm-timeline.ts';
import { executionKeys, loadExecution, loadPlanSnapshot } from '../engine/executor/index.ts';
import { orchestrationPlan, percentile, startStack } from './_engine-stack.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const EVERY_MS = Number(process.env.EVERY_MS ?? 500);
const WARM = Number(process.env.WARM ?? 20);

function startServe(redisUrl: string, prefix: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['bin/drctl.js', 'serve', '--port', '0', '--prefix', prefix, '--json'],
    { env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith('{"api"'));
      if (line) resolve({ url: (JSON.parse(line) as { api: string }).api, child });
    });
    child.once('exit', (code) => reject(new Error(`drctl serve exited (${code}) before it was ready`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

interface Answer {
  took: number;
  bytes: number;
  status: string;
  rows: number;
  ready: number;
}

async function rows(url: string, id: string, headers: Record<string, string>): Promise<Answer> {
  const t0 = performance.now();
  const response = await fetch(`${url}/api/v1/executions/${id}/vms`, { headers });
  const text = await response.text();
  const body = JSON.parse(text) as { execution: { status: string }; vms: { state: string }[] };
  const took = performance.now() - t0;
  if (!response.ok) throw new Error(`/vms answered ${response.status}: ${text.slice(0, 300)}`);
  return {
    took,
    bytes: text.length,
    status: body.execution.status,
    rows: body.vms.length,
    ready: body.vms.filter((r) => r.state === 'ready').length,
  };
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const { plan, hash } = orchestrationPlan(VMS);
const stack = await startStack(plan, { boot: '0-0', speed: 1, orchestrator: false });
const serve = await startServe(stack.redisUrl, stack.prefix);
const headers = { authorization: `Bearer ${await stack.adminToken()}` };
const table: Record<string, string | number>[] = [];
try {
  const { id } = await stack.client.submit({ type: 'planned', plan, hash, reason: 'bench' });
  const during: Answer[] = [];
  for (;;) {
    const answer = await rows(serve.url, id, headers);
    if (answer.status === 'running') during.push(answer);
    if (!['submitted', 'running'].includes(answer.status)) {
      if (answer.status !== 'completed') throw new Error(`${id} ended ${answer.status}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
  const events = await stack.redis.xlen(executionKeys(stack.prefix, id).events);
  const times = during.map((a) => a.took);
  table.push({
    phase: `while running (every ${EVERY_MS} ms)`,
    requests: during.length,
    p50: ms(percentile(times, 50)),
    p99: ms(percentile(times, 99)),
    max: ms(Math.max(...times)),
    rows: during.at(-1)?.rows ?? 0,
    'answer size': `${((during.at(-1)?.bytes ?? 0) / 1e6).toFixed(2)} MB`,
  });
  await stop(serve.child);
  // Where a cold answer's time goes, in this process: the plan compiled into waves, the log folded.
  const t0 = performance.now();
  const { record } = await loadExecution(stack.redis, stack.prefix, id);
  const shape = shapeOf(await loadPlanSnapshot(stack.redis, stack.prefix, id), record);
  const t1 = performance.now();
  const fold = newFold(shape);
  await catchUp(stack.redis, stack.prefix, id, fold, shape);
  const t2 = performance.now();
  const fresh = await startServe(stack.redisUrl, stack.prefix);
  try {
    // The fresh process's first answer of any kind (its JIT, the gate) before the cold /vms.
    await (await fetch(`${fresh.url}/api/v1/executions/${id}`, { headers })).json();
    const cold = await rows(fresh.url, id, headers);
    const warm: Answer[] = [];
    for (let i = 0; i < WARM; i += 1) warm.push(await rows(fresh.url, id, headers));
    const warmTimes = warm.map((a) => a.took);
    table.push({
      phase: 'ended, a control plane just started (from the saved fold)',
      requests: 1,
      p50: ms(cold.took),
      p99: ms(cold.took),
      max: ms(cold.took),
      rows: cold.rows,
      'answer size': `${(cold.bytes / 1e6).toFixed(2)} MB`,
    });
    table.push({
      phase: `no saved fold, in this process: compile the plan / fold the whole log (${events} events)`,
      requests: 1,
      p50: `${ms(t1 - t0)} / ${ms(t2 - t1)}`,
      p99: '',
      max: '',
      rows: fold.rows.size,
      'answer size': '',
    });
    table.push({
      phase: 'ended, warm',
      requests: warm.length,
      p50: ms(percentile(warmTimes, 50)),
      p99: ms(percentile(warmTimes, 99)),
      max: ms(Math.max(...warmTimes)),
      rows: warm.at(-1)?.rows ?? 0,
      'answer size': `${((warm.at(-1)?.bytes ?? 0) / 1e6).toFixed(2)} MB`,
    });
    if (cold.ready !== VMS) throw new Error(`${cold.ready} of ${VMS} rows ready after the run`);
  } finally {
    await stop(fresh.child);
  }
} finally {
  await stack.close();
}
console.table(table);
