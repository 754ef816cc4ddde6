/**
 * Automatic failover (issue 13, target: from the last renewal of a lost site to the failover's first
 * step <= `after` + 2 s). Per run: a control plane in this process on a private redis-server (AOF,
 * appendfsync always: Redis 7.0 has no WAITAOF), a simulated world (20×) with dc-west's workers, an
 * armed one-VM plan with `after: 30s` (the shortest a plan accepts), an agent heartbeat every
 * 500 ms, a site lease of 3 s and a 1 s margin; then dc-east loses power and its heartbeats stop
 * (the witness: unreachable); the agent's contact reports an armed host guard holding the VM (the
 * guard's firing itself is test/agent/host-guard.test.ts's). Measured on this process's clock: the last heartbeat the control
 * plane accepted → the first `step-started` event of the automatic execution.
 * `npx tsx bench/auto-failover.ts [--runs 3]`.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createLogger } from '../engine/common/index.ts';
import { createToken } from '../engine/control/auth/index.ts';
import { CONTROL_VERSION, controlRoutes, startControlPlane } from '../engine/control/index.ts';
import { readEvents, startSiteWorkers } from '../engine/executor/index.ts';
import { parsePlan } from '../engine/plan/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';
import { worldForPlan } from '../simulators/for-plan.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const AFTER_MS = 30_000;
const server = await startPrivateRedis({ appendOnly: true });
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
await redis.config('SET', 'appendfsync', 'always');
const silent = createLogger('bench', { level: 'silent' });
const text = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: erp }
spec:
  source: dc-east
  target: dc-west
  targets: { rpo: 1h }
  vms: [{ name: sql-01 }]
  automaticFailover: { enabled: true, after: 30s }
`;
const parsed = parsePlan(text, 'erp.yaml');
if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));

const rows: { run: number; overMs: number; totalMs: number }[] = [];
for (let run = 1; run <= runs; run += 1) {
  const prefix = `bench-auto-${process.pid}-${run}`;
  const world = worldForPlan(parsed.plan, { clock: { mode: 'scaled', speed: 20 }, warmupMs: 5 * 3_600_000 });
  world.start();
  const workers = startSiteWorkers({
    redisUrl: server.url,
    prefix,
    site: 'dc-west',
    api: world.api,
    logger: silent,
  });
  await workers.ready();
  const control = await startControlPlane({
    redisUrl: server.url,
    prefix,
    port: 0,
    routes: controlRoutes,
    inventory: world.api,
    logger: silent,
    agents: { heartbeatMs: 500 },
    siteMonitor: {
      leaseMs: 3000,
      suspectAfterMs: 1500,
      marginMs: 1000,
      witnessEveryMs: 500,
      tickMs: 50,
      witness: async () => ({ verdict: 'unreachable', by: 'peer', detail: 'bench: dc-east powered off' }),
    },
  });
  const { token } = await createToken(redis, prefix, { owner: 'bench', role: 'admin', createdBy: 'bench' });
  const auth = { authorization: `Bearer ${token}` };
  const inject = async (method: 'GET' | 'POST', url: string, payload?: object, headers = auth) => {
    const reply = await control.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    if (reply.statusCode >= 300) throw new Error(`${method} ${url}: ${reply.statusCode} ${reply.body}`);
    return reply.json() as Record<string, unknown>;
  };
  await inject('POST', '/api/v1/plans', { file: 'erp.yaml', text });
  await inject('POST', '/api/v1/auto/plans/erp/arm');
  const hello = await inject('POST', '/api/v1/agents/dc-east/hello', {
    site: 'dc-east',
    agentId: 'bench-agent',
    version: CONTROL_VERSION,
    scriptCatalog: { scripts: {} },
  });
  let lastAccepted = 0;
  const beat = setInterval(() => {
    void control.app
      .inject({
        method: 'POST',
        url: '/api/v1/agents/dc-east/heartbeat',
        payload: { session: hello.session, running: [] },
      })
      .then((reply) => {
        if (reply.statusCode === 200) lastAccepted = performance.now();
      });
    // The agent's contact with its host guard's health: a site whose guard is not known to work
    // is never failed over automatically (engine/control/auto guards.ts).
    void control.app.inject({
      method: 'POST',
      url: '/api/v1/agents/dc-east/contact',
      payload: { session: hello.session, guards: [{ host: 'bench-host', armed: true, vms: ['sql-01'] }] },
    });
  }, 500);
  while (control.monitor.snapshots().get('dc-east')?.state !== 'online')
    await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 2000));
  world.fault({ kind: 'site-power', site: 'dc-east', state: 'off' });
  clearInterval(beat);
  const wallAtMono = (mono: number) => Date.now() - (performance.now() - mono);
  const lastWall = wallAtMono(lastAccepted);
  let firstStep: number | undefined;
  const deadline = Date.now() + AFTER_MS + 60_000;
  while (firstStep === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const status = (await inject('GET', '/api/v1/auto')) as {
      plans: { decision?: { execution?: string } }[];
    };
    const execution = status.plans[0]?.decision?.execution;
    if (execution === undefined) continue;
    const started = (await readEvents(redis, prefix, execution)).find((e) => e.event.type === 'step-started');
    if (started) firstStep = Date.parse(started.event.at);
  }
  if (firstStep === undefined)
    throw new Error(`run ${run}: no automatic failover step within ${AFTER_MS + 60_000} ms`);
  rows.push({ run, totalMs: firstStep - lastWall, overMs: firstStep - lastWall - AFTER_MS });
  await control.close(5000);
  await workers.close(2000);
  world.close();
}
redis.disconnect();
await server.stop();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(
  'automatic failover: last renewal → first step (after = 30 s, lease 3 s, margin 1 s, heartbeat 0.5 s)',
);
console.log('run  total ms  over `after` ms');
for (const r of rows)
  console.log(
    `${String(r.run).padEnd(4)} ${String(Math.round(r.totalMs)).padStart(8)}  ${String(Math.round(r.overMs)).padStart(15)}`,
  );
console.log(
  `median over after: ${Math.round(median(rows.map((r) => r.overMs)))} ms (target <= 2000 ms), worst ${Math.round(Math.max(...rows.map((r) => r.overMs)))} ms over ${rows.length} runs`,
);
