/**
 * Simulator figure: N VMs writing 10 writes/s each, replicating every 30 s for 24 virtual hours
 * with full recovery-point history (24 hourly points, every 4th application-consistent).
 * Targets: 1,000 VMs in <= 10 s wall; 10,000 VMs in <= 1 GB RSS at the end.
 *
 *   npx tsx bench/sim-replication.ts [--vms 1000,10000] [--hours 24] [--runs 1]
 *
 * Each size runs in a fresh child process so RSS is that run's own. Prints a table.
 */
import { execFileSync } from 'node:child_process';
import { createWorld, type VmSpec } from '../simulators/index.ts';

const HOUR = 3_600_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

interface Result {
  vms: number;
  hours: number;
  buildMs: number;
  runMs: number;
  /** CPU time (user + system) of the replicate phase: robust when the machine is shared. */
  cpuMs: number;
  cycles: number;
  missed: number;
  points: number;
  rssMb: number;
  heapMb: number;
}

async function one(vms: number, hours: number): Promise<Result> {
  const perHost = 50;
  const hosts = Math.ceil(vms / perHost);
  const t0 = performance.now();
  const list: VmSpec[] = Array.from({ length: vms }, (_, i) => ({
    name: `vm-${i}`,
    site: 'east',
    host: `he-${i % hosts}`,
    workload: { writesPerSec: 10, bytesPerWrite: 4096 },
    replication: {
      site: 'west',
      host: `hw-${i % hosts}`,
      frequencySec: 30,
      recoveryPoints: 24,
      appConsistentEveryHours: 4,
    },
  }));
  const world = createWorld({
    seed: 1,
    clock: { mode: 'manual' },
    sites: ['east', 'west'].map((site) => ({
      name: site,
      hosts: Array.from({ length: hosts }, (_, i) => ({ name: `h${site[0]}-${i}`, vmSlots: perHost })),
    })),
    // 10,000 VMs × 40 KiB/s need ~3.3 Gbit/s: give the link 10 Gbit/s so nothing falls behind.
    links: [{ between: ['east', 'west'], bandwidthBytesPerSec: 1_250_000_000 }],
    vms: list,
  });
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  world.advance(hours * HOUR);
  const cpu = process.cpuUsage(cpu0);
  const t2 = performance.now();
  const truth = world.truth();
  let cycles = 0;
  let missed = 0;
  for (const reps of Object.values(truth.replication.vms)) {
    for (const r of reps) {
      cycles += r.totalCycles;
      missed += r.missedCycles;
    }
  }
  const points = (await world.api.getRecoveryPoints('west', 'vm-0')).length;
  const mem = process.memoryUsage();
  return {
    vms,
    hours,
    buildMs: t1 - t0,
    runMs: t2 - t1,
    cpuMs: (cpu.user + cpu.system) / 1000,
    cycles,
    missed,
    points,
    rssMb: mem.rss / 2 ** 20,
    heapMb: mem.heapUsed / 2 ** 20,
  };
}

if (process.argv.includes('--child')) {
  const result = await one(Number(arg('vms', '1000')), Number(arg('hours', '24')));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const sizes = arg('vms', '1000,10000').split(',').map(Number);
  const hours = Number(arg('hours', '24'));
  const runs = Number(arg('runs', '1'));
  const rows: Result[] = [];
  for (const vms of sizes) {
    for (let r = 0; r < runs; r++) {
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          new URL(import.meta.url).pathname,
          '--child',
          '--vms',
          String(vms),
          '--hours',
          String(hours),
        ],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      rows.push(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Result);
    }
  }
  const header = [
    'VMs',
    'virtual h',
    'build s',
    'replicate s (wall)',
    'replicate s (CPU)',
    'cycles',
    'missed',
    'points/VM',
    'RSS MB',
    'heap MB',
  ];
  const table = rows.map((r) => [
    r.vms.toLocaleString('en-US'),
    String(r.hours),
    (r.buildMs / 1000).toFixed(2),
    (r.runMs / 1000).toFixed(2),
    (r.cpuMs / 1000).toFixed(2),
    r.cycles.toLocaleString('en-US'),
    String(r.missed),
    String(r.points),
    r.rssMb.toFixed(0),
    r.heapMb.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
}
