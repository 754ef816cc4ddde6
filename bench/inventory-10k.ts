/**
 * The vault's inventory of a 10,000-VM site: Redis bytes per VM, and the control plane's CPU to
 * apply a full inventory (in parts) and a changes sweep, through the real route (JSON parse, zod,
 * encode, the Lua script) by app.inject.
 *
 *   npx tsx bench/inventory-10k.ts [vms=10000] [runs=3]
 *
 * The bodies are what a real reporter (engine/agent/inventory.ts) sends of an in-process simulated
 * world (30-s replication, 24 hourly points): a full, a sweep one replication cycle later (every
 * VM's last replication moved), and a quiet sweep (nothing changed). Redis CPU is INFO's
 * used_cpu_user + used_cpu_sys of the server over the same calls (REDIS_URL, or a private one).
 */
import { Redis } from 'ioredis';
import { startInventoryReporter } from '../engine/agent/inventory.ts';
import { createLogger } from '../engine/common/index.ts';
import { buildControlApp, createControlMetrics } from '../engine/control/index.ts';
import { type InventoryBatch, inventoryRoutes, siteKeys } from '../engine/control/inventory/index.ts';
import { generatePlan, parsePlan } from '../engine/plan/index.ts';
import { acquireRedis } from '../engine/redis/index.ts';
import { worldForPlan } from '../simulators/index.ts';

const vmCount = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 3);
const log = createLogger('bench', { level: 'silent' });

const parsed = parsePlan(generatePlan({ vms: vmCount, depth: 5, seed: 1 }), 'generated.yaml');
if (!parsed.ok) throw new Error('generated plan is invalid');
const plan = parsed.plan;
const world = worldForPlan(plan, { clock: { mode: 'manual' }, vmSlotsPerHost: 200 });
// A day, so every replica holds its 24 hourly points, and 5 minutes past the hour, so the
// sweep one cycle later takes no new hourly point (as 119 cycles of 120 an hour).
world.advance(24 * 3_600_000 + 5 * 60_000);

// The reporter's bodies, captured (the vault's answers are faked here; the apply is timed below).
const captured: InventoryBatch[] = [];
let agentNow = 0;
const reporter = startInventoryReporter({
  driver: world.api,
  site: plan.target,
  log,
  pollMs: 3_600_000,
  clock: () => agentNow,
  post: async (_path, body) => {
    captured.push(body as InventoryBatch);
    return { applied: true, seq: (body as InventoryBatch).seq, refresh: false };
  },
});
const sweep = async (): Promise<InventoryBatch[]> => {
  captured.length = 0;
  await reporter.refreshNow();
  return [...captured];
};
const full = await sweep();
world.advance(30_000);
agentNow += 10_000;
const cycle = await sweep();
agentNow += 1_000;
const quiet = await sweep();
await reporter.close();

const redisHandle = await acquireRedis();
const redis = new Redis(redisHandle.url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
const ctx = {
  redis,
  redisUrl: redisHandle.url,
  prefix: `bench-inv-${process.pid}`,
  log,
  metrics: createControlMetrics(),
  readiness: {},
};
const app = await buildControlApp(ctx, { routes: [inventoryRoutes()] });

const redisCpuMs = async (): Promise<number> => {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
};

/** Apply `bodies` in order; session and seq rewritten so each run continues the vault's sequence. */
let seq = 0;
async function apply(bodies: readonly InventoryBatch[]) {
  const cpu = process.cpuUsage();
  const redisBefore = await redisCpuMs();
  const started = performance.now();
  let bytes = 0;
  for (const body of bodies) {
    if (body.kind === 'full' && body.part === 0) seq = 0;
    const payload = JSON.stringify({ ...body, session: 'bench-session', seq: ++seq });
    bytes += payload.length;
    const reply = await app.inject({
      method: 'POST',
      url: `/api/v1/agents/${plan.target}/inventory`,
      headers: { 'content-type': 'application/json' },
      payload,
    });
    if (reply.statusCode !== 200) throw new Error(`apply answered ${reply.statusCode}: ${reply.body}`);
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    redisMs: (await redisCpuMs()) - redisBefore,
    bytes,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const rows: string[][] = [];
for (const [name, bodies] of [
  ['full', full],
  ['changes, one cycle later', cycle],
  ['changes, quiet sweep', quiet],
] as const) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    if (name !== 'full') await apply(full); // each changes run starts from a fresh full
    results.push(await apply(bodies));
  }
  const vms = bodies.reduce((n, b) => n + b.vms.length, 0);
  rows.push([
    name,
    String(bodies.length),
    String(vms),
    (median(results.map((r) => r.bytes)) / 1024 / 1024).toFixed(2),
    median(results.map((r) => r.cpuMs)).toFixed(0),
    median(results.map((r) => r.redisMs)).toFixed(0),
    median(results.map((r) => r.wallMs)).toFixed(0),
    vms === 0 ? '-' : ((median(results.map((r) => r.cpuMs)) * 1000) / vms).toFixed(1),
  ]);
}

const keys = siteKeys(ctx.prefix, plan.target);
const memory = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
const [vmsBytes, ptsBytes, metaBytes] = await Promise.all([
  memory(keys.vms),
  memory(keys.pts),
  memory(keys.meta),
]);
const stored = await redis.hlen(keys.vms);

const header = ['batch', 'bodies', 'VMs', 'MiB sent', 'node CPU ms', 'redis CPU ms', 'wall ms', 'node µs/VM'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
process.stdout.write(
  `inventory of one ${stored}-VM site (the replicas of a ${vmCount}-VM plan), median of ${runs} runs\n`,
);
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n\n`);
process.stdout.write(
  `redis memory: VM records ${(vmsBytes / stored).toFixed(0)} B/VM, recovery points ${(ptsBytes / stored).toFixed(0)} B/VM, ` +
    `total ${((vmsBytes + ptsBytes + metaBytes) / stored).toFixed(0)} B/VM (${((vmsBytes + ptsBytes + metaBytes) / 1024 / 1024).toFixed(1)} MiB; MEMORY USAGE SAMPLES 0)\n`,
);

await app.close();
await redis.del(...Object.values(keys), `${ctx.prefix}:inventory:sites`);
redis.disconnect();
await redisHandle.release();
world.close();
