/**
 * `GET /api/v1/executions/:id` while a 10,000-VM planned failover runs (target: p99 ≤ 50 ms).
 *
 *   VMS=10000 RUNS=1 npx tsx bench/api-status-10k.ts
 *
 * A real `drctl serve` process (API, and the orchestrator that drives the failover: the status
 * answers share its event loop) with the world and each site's workers in processes of their own
 * (bench/_engine-stack.ts, boot time 0). This process submits the failover on Redis, then asks for
 * the status back to back over one keep-alive connection until the run ends, as a dashboard or
 * `drctl status` polling would; every 25th request (VMS_EVERY=..., 0: none) asks for the per-VM
 * views (`?vms=true`, 10,000 phases and places), reported apart. Latency is request to parsed answer, measured here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { orchestrationPlan, percentile, startStack } from './_engine-stack.ts';
import { type BenchVault, makeBenchVault } from './_vault.ts';

const VMS = Number(process.env.VMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 1);
/** Every Nth request asks for the per-VM views; 0: none. */
const VMS_EVERY = Number(process.env.VMS_EVERY ?? 25);

function startServe(
  redisUrl: string,
  prefix: string,
  vault: BenchVault,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['bin/drctl.js', 'serve', '--port', '0', '--prefix', prefix, '--vault-dir', vault.dir, '--json'],
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

interface Row {
  run: number;
  requests: number;
  stepsSeen: string;
  p50: string;
  p90: string;
  p99: string;
  max: string;
  vmsRequests: number;
  vmsP50: string;
  vmsP99: string;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const { plan, hash } = orchestrationPlan(VMS);
const rows: Row[] = [];
for (let run = 1; run <= RUNS; run += 1) {
  const stack = await startStack(plan, { boot: '0-0', speed: 1, orchestrator: false });
  const vault = await makeBenchVault(stack.redisUrl, stack.prefix);
  const serve = await startServe(stack.redisUrl, stack.prefix, vault);
  // Every status answer goes through the token gate (one Redis read per request), as a dashboard's.
  const headers = { authorization: `Bearer ${await stack.adminToken()}` };
  try {
    const { id } = await stack.client.submit({ type: 'planned', plan, hash, reason: 'bench' });
    const plain: number[] = [];
    const withVms: number[] = [];
    let first = -1;
    let last = 0;
    for (let n = 0; ; n += 1) {
      const vms = VMS_EVERY > 0 && n % VMS_EVERY === VMS_EVERY - 1;
      const t0 = performance.now();
      const url = `${serve.url}/api/v1/executions/${id}${vms ? '?vms=true' : ''}`;
      const response = await fetch(url, vault.trusted(url, { headers }));
      const view = (await response.json()) as { status: string; stepsDone: number; stepsTotal: number };
      const took = performance.now() - t0;
      if (!response.ok) throw new Error(`status answered ${response.status}: ${JSON.stringify(view)}`);
      const running = view.status === 'running';
      // Only answers given while the run is running count: that is the figure asked for.
      if (running) {
        (vms ? withVms : plain).push(took);
        if (first === -1) first = view.stepsDone;
        last = view.stepsDone;
      }
      if (!['submitted', 'running'].includes(view.status)) {
        if (view.status !== 'completed') throw new Error(`${id} ended ${view.status}`);
        process.stderr.write(`run ${run}: ${view.stepsDone}/${view.stepsTotal} steps, ${view.status}\n`);
        break;
      }
    }
    rows.push({
      run,
      requests: plain.length,
      stepsSeen: `${first}..${last} of ${plan.vms.length} VMs' steps`,
      p50: ms(percentile(plain, 50)),
      p90: ms(percentile(plain, 90)),
      p99: ms(percentile(plain, 99)),
      max: ms(Math.max(...plain)),
      vmsRequests: withVms.length,
      vmsP50: withVms.length > 0 ? ms(percentile(withVms, 50)) : '—',
      vmsP99: withVms.length > 0 ? ms(percentile(withVms, 99)) : '—',
    });
  } finally {
    serve.child.kill('SIGTERM');
    await new Promise((resolve) => serve.child.once('exit', resolve));
    await stack.close();
  }
}
console.table(rows);
