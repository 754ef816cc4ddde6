/**
 * Plan language figures: validate and compile a generated 10,000-VM plan (depth 10).
 * Each run is a fresh child process (so RSS is honest and nothing is warm), reading the plan
 * file, parsing + validating it (parsePlan: YAML, schema, semantic checks, normalization, hash) and
 * compiling the unplanned and planned step graphs. Prints a table and the medians.
 *
 *   npx tsx bench/plan-compile.ts [--vms 10000] [--depth 10] [--runs 5]
 *
 * Targets (issue 2): <= 1.5 s wall for validate + compile, <= 400 MB max RSS. `total CPU ms` is the
 * CPU the pipeline used: on a shared, loaded machine wall time also counts waiting for a core.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compilePlan, generatePlan, parsePlan } from '../engine/plan/index.ts';

interface Sample {
  readMs: number;
  parseMs: number;
  compileMs: number;
  compilePlannedMs: number;
  totalMs: number;
  steps: number;
  maxRssMb: number;
  /** user + system CPU of the child up to the end of the unplanned compile. */
  cpuMs: number;
  /** user + system CPU of read + parse/validate + compile alone (all threads, GC included). */
  pipelineCpuMs: number;
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function child(file: string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const text = await readFile(file, 'utf8');
  const t1 = performance.now();
  const result = parsePlan(text, file);
  const t2 = performance.now();
  if (!result.ok) throw new Error(`generated plan is invalid: ${result.issues[0]?.message}`);
  const compiled = compilePlan(result.plan, { type: 'unplanned' });
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const usage = process.resourceUsage();
  compilePlan(result.plan, { type: 'planned' });
  const t4 = performance.now();
  const sample: Sample = {
    readMs: t1 - t0,
    parseMs: t2 - t1,
    compileMs: t3 - t2,
    compilePlannedMs: t4 - t3,
    totalMs: t3 - t0,
    steps: compiled.steps.size,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    pipelineCpuMs: (cpu.user + cpu.system) / 1000,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const vms = flag('vms', 10_000);
  const depth = flag('depth', 10);
  const runs = flag('runs', 5);
  const dir = await mkdtemp(join(tmpdir(), 'plan-bench-'));
  const file = join(dir, `estate-${vms}.yaml`);
  const text = generatePlan({ vms, depth, seed: 1 });
  await writeFile(file, text);
  const self = fileURLToPath(import.meta.url);
  const run = promisify(execFile);
  const samples: Sample[] = [];
  const processMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--child', file], {
      maxBuffer: 1 << 20,
    });
    processMs.push(performance.now() - start);
    samples.push(JSON.parse(stdout.trim()) as Sample);
  }
  await rm(dir, { recursive: true, force: true });

  const ms = (n: number) => n.toFixed(0);
  process.stdout.write(
    `plan-compile: ${vms} VMs, depth ${depth}, ${(text.length / 1e6).toFixed(2)} MB of YAML, node ${process.version}\n\n`,
  );
  const header = [
    'run',
    'read ms',
    'parse+validate ms',
    'compile ms',
    'total ms',
    'total CPU ms',
    'planned compile ms',
    'process ms',
    'max RSS MB',
  ];
  const widths = header.map((h, i) => (i === 0 ? 'median'.length : h.length));
  const row = (cells: string[]) => `${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}\n`;
  const cells = (label: string, s: Omit<Sample, 'steps' | 'cpuMs'>, processWall: number) => [
    label,
    ms(s.readMs),
    ms(s.parseMs),
    ms(s.compileMs),
    ms(s.totalMs),
    ms(s.pipelineCpuMs),
    ms(s.compilePlannedMs),
    ms(processWall),
    ms(s.maxRssMb),
  ];
  process.stdout.write(row(header));
  samples.forEach((s, i) => {
    process.stdout.write(row(cells(String(i + 1), s, processMs[i]!)));
  });
  const pick = (key: keyof Sample) => median(samples.map((s) => s[key]));
  const med = {
    readMs: pick('readMs'),
    parseMs: pick('parseMs'),
    compileMs: pick('compileMs'),
    totalMs: pick('totalMs'),
    compilePlannedMs: pick('compilePlannedMs'),
    maxRssMb: pick('maxRssMb'),
    pipelineCpuMs: pick('pipelineCpuMs'),
  };
  process.stdout.write(row(cells('median', med, median(processMs))));
  const fastest = Math.min(...samples.map((x) => x.totalMs));
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  process.stdout.write(
    `\nfastest total: ${ms(fastest)} ms; median CPU of the child to the end of the unplanned compile, start-up included: ${ms(pick('cpuMs'))} ms; load average: ${load}\n`,
  );
  process.stdout.write(
    `steps (unplanned): ${samples[0]?.steps}. total = read + parse/validate + compile (unplanned), in the child; process ms = the whole child process including Node + tsx start-up and the planned compile.\n`,
  );
  const ok = pick('totalMs') <= 1_500 && pick('maxRssMb') <= 400;
  process.stdout.write(`targets (<= 1500 ms, <= 400 MB): ${ok ? 'met' : 'MISSED'}\n`);
}

if (process.argv[2] === '--child') await child(process.argv[3]!);
else await main();
