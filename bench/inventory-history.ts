/**
 * Inventory history (issue 11): 24 h of 5-minute buckets per VM for N VMs, in a private
 * redis-server (never REDIS_URL: the figure is that server's used_memory delta, so nothing else may
 * share it). Target: 20,000 VMs × 288 buckets in <= 50 MB of Redis, key overhead included.
 *
 *   npx tsx bench/inventory-history.ts [--vms 20000] [--per-bucket 1] [--batch 5000] [--cycles 20]
 *
 * Phases: `fill` writes a day with synthetic times (`--per-bucket` samples per VM and bucket, in
 * calls of `--batch` samples: one site agent's inventory), `steady` replays the live rate (every VM
 * once per 30-s cycle, all folding into the current bucket), then reads: one VM's 288 points and a
 * 100-VM dashboard page. Calls are awaited one at a time (one agent's report after another).
 * CPU is this process's (planning, encoding, decoding) and redis-server's (INFO cpu); Redis
 * commands count the ones run inside the Lua script (INFO commandstats).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import {
  BUCKET_MS,
  createHistoryStore,
  type HistorySample,
  historyKey,
  RING_BYTES,
  SERIES_BUCKETS,
} from '../engine/control/history/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '20000' },
    'per-bucket': { type: 'string', default: '1' },
    batch: { type: 'string', default: '5000' },
    cycles: { type: 'string', default: '20' },
  },
});
const VMS = Number(values.vms);
const PER_BUCKET = Number(values['per-bucket']);
const BATCH = Number(values.batch);
const CYCLES = Number(values.cycles);
const HEALTHS = ['Normal', 'Normal', 'Normal', 'Normal', 'Normal', 'Normal', 'Warning', 'Critical'] as const;

const server = await startPrivateRedis();
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
const prefix = 'bench-history';
/** The end of the simulated day: every figure is read "now". */
const NOW = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS + BUCKET_MS - 1;
const store = createHistoryStore(redis, { prefix, clock: () => NOW });
const vmNames = Array.from({ length: VMS }, (_, i) => `vm-${String(i).padStart(5, '0')}`);

async function info(section: string): Promise<Map<string, string>> {
  const text = await redis.info(section);
  return new Map(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}
async function usedMemory(): Promise<number> {
  return Number((await info('memory')).get('used_memory'));
}
async function redisCpuMs(): Promise<number> {
  const cpu = await info('cpu');
  return (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1000;
}
/** Commands Redis ran, including those inside scripts, minus INFO itself. */
async function redisCommands(): Promise<number> {
  let total = 0;
  for (const [name, value] of await info('commandstats')) {
    if (name === 'cmdstat_info') continue;
    total += Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
  }
  return total;
}
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Meter {
  wallMs: number;
  clientCpuMs: number;
  redisCpuMs: number;
  commands: number;
  samples: number;
  callMs: number[];
}
async function metered(run: (meter: Meter) => Promise<void>): Promise<Meter> {
  const meter: Meter = { wallMs: 0, clientCpuMs: 0, redisCpuMs: 0, commands: 0, samples: 0, callMs: [] };
  const [cmd0, rcpu0] = [await redisCommands(), await redisCpuMs()];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(meter);
  meter.wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  meter.clientCpuMs = (cpu.user + cpu.system) / 1000;
  meter.redisCpuMs = (await redisCpuMs()) - rcpu0;
  meter.commands = (await redisCommands()) - cmd0;
  return meter;
}
async function recordTimed(meter: Meter, samples: HistorySample[], now: number): Promise<void> {
  const t = performance.now();
  const counts = await store.record(samples, { now });
  meter.callMs.push(performance.now() - t);
  if (counts.recorded !== samples.length) throw new Error(`lost samples: ${JSON.stringify(counts)}`);
  meter.samples += samples.length;
}
function sampleOf(vm: number, at: number, seed: number): HistorySample {
  const h = (vm * 2_654_435_761 + seed * 40_503) >>> 0;
  return {
    vm: vmNames[vm] ?? '',
    site: vm % 2 ? 'dc-west' : 'dc-east',
    at,
    rpoSec: h % 7 === 0 ? 3 * 86_400 : 20 + (h % 60),
    health: HEALTHS[h % HEALTHS.length] ?? 'Normal',
  };
}

const memory0 = await usedMemory();
const lastBucket = Math.floor(NOW / BUCKET_MS);
const fill = await metered(async (meter) => {
  let batch: HistorySample[] = [];
  for (let b = lastBucket - SERIES_BUCKETS + 1; b <= lastBucket; b++) {
    const now = b * BUCKET_MS + BUCKET_MS - 1;
    for (let k = 0; k < PER_BUCKET; k++) {
      const at = b * BUCKET_MS + Math.floor(((k + 0.5) * BUCKET_MS) / PER_BUCKET);
      for (let vm = 0; vm < VMS; vm++) {
        batch.push(sampleOf(vm, at, b * 7 + k));
        if (batch.length === BATCH) {
          await recordTimed(meter, batch, now);
          batch = [];
        }
      }
    }
    if (batch.length > 0) await recordTimed(meter, batch, now);
    batch = [];
  }
});
const memory1 = await usedMemory();
const keyBytes = Number(await redis.memory('USAGE', historyKey(prefix, vmNames[0] ?? '')));

const steady = await metered(async (meter) => {
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const at = lastBucket * BUCKET_MS + ((cycle * 30_000) % BUCKET_MS);
    for (let start = 0; start < VMS; start += BATCH) {
      const batch: HistorySample[] = [];
      for (let vm = start; vm < Math.min(VMS, start + BATCH); vm++) batch.push(sampleOf(vm, at, cycle));
      await recordTimed(meter, batch, NOW);
    }
  }
});

const readOne: number[] = [];
const readPage: number[] = [];
let gaps = 0;
for (let i = 0; i < 2_000; i++) {
  const t = performance.now();
  const series = await store.read(vmNames[(i * 7_919) % VMS] ?? '');
  readOne.push(performance.now() - t);
  gaps += series.points.filter((p) => p.health === null).length;
}
for (let i = 0; i < 300; i++) {
  const start = ((i * 97) % Math.max(1, VMS - 100)) | 0;
  const t = performance.now();
  const page = await store.readMany(vmNames.slice(start, start + 100));
  readPage.push(performance.now() - t);
  for (const series of page) gaps += series.points.filter((p) => p.health === null).length;
}
readOne.sort((a, b) => a - b);
readPage.sort((a, b) => a - b);

const deltaMb = (memory1 - memory0) / 1_048_576;
console.log(
  `inventory history — ${VMS} VMs × ${SERIES_BUCKETS} buckets, ${PER_BUCKET} sample(s) per VM and bucket, calls of ${BATCH} samples; node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  `memory: used_memory delta ${deltaMb.toFixed(1)} MB (target <= 50), ${((memory1 - memory0) / VMS).toFixed(0)} bytes per VM (ring ${RING_BYTES} B, MEMORY USAGE of one key ${keyBytes} B), ${await redis.dbsize()} keys`,
);
console.log(
  'phase     samples   wall s  samples/s  call p50 ms  call p99 ms  client µs/sample  redis µs/sample  redis cmds/sample',
);
for (const [name, m] of [
  ['fill', fill],
  ['steady', steady],
] as const) {
  const calls = [...m.callMs].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(8)} ${String(m.samples).padStart(8)} ${(m.wallMs / 1000).toFixed(1).padStart(8)} ${((m.samples / m.wallMs) * 1000).toFixed(0).padStart(10)} ${percentile(calls, 50).toFixed(1).padStart(12)} ${percentile(calls, 99).toFixed(1).padStart(12)} ${((m.clientCpuMs * 1000) / m.samples).toFixed(1).padStart(17)} ${((m.redisCpuMs * 1000) / m.samples).toFixed(1).padStart(16)} ${(m.commands / m.samples).toFixed(2).padStart(18)}`,
  );
}
console.log('read                 runs  p50 ms  p99 ms');
console.log(
  `one VM (288 points) ${String(readOne.length).padStart(5)} ${percentile(readOne, 50).toFixed(2).padStart(7)} ${percentile(readOne, 99).toFixed(2).padStart(7)}`,
);
console.log(
  `100-VM page         ${String(readPage.length).padStart(5)} ${percentile(readPage, 50).toFixed(2).padStart(7)} ${percentile(readPage, 99).toFixed(2).padStart(7)}`,
);
console.log(`gaps read back: ${gaps} (a full day was written: expected 0)`);
await redis.quit();
await server.stop();
if (gaps !== 0 || deltaMb > 50) process.exitCode = 1;
