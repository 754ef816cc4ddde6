/**
 * A worker's death to its job running again. Each run starts a real `drctl worker` for one site
 * (the stall settings under test; default: the engine's), gives it a script action that takes a
 * minute, SIGKILLs the worker once the script has started, and measures the time from the kill to
 * the script's second start, run by another worker: one already running (`standby`, as in a site
 * with several workers) or one started right after the kill (`fresh`). Also reports whether the
 * killed worker's script outlived it (an orphan) and the DR_ATTEMPT of the re-run.
 *
 * `--load-vms N` adds the other half of the trade-off: a planned failover of a generated N-VM plan
 * (bench/_engine-stack.ts: world, workers and orchestrator in separate processes) with the default
 * stall settings, measuring every engine process's event-loop delay (a worker whose loop is blocked
 * longer than lockDuration/2 may lose its jobs' locks) and counting the jobs BullMQ found stalled.
 *
 *   npx tsx bench/worker-death.ts [--runs 5] [--modes standby,fresh] [--lock-duration-ms 4000]
 *     [--stalled-interval-ms 1000] [--load-vms 10000] [--load-runs 1]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { StepJobData } from '../engine/contract/index.ts';
import {
  bullOptions,
  CONTROL_QUEUE,
  STALL_DEFAULTS,
  siteQueueName,
  stepJobId,
  stepJobOptions,
} from '../engine/executor/index.ts';
import type { PlanAction } from '../engine/plan/types.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';
import { createWorld, startSimServer } from '../simulators/index.ts';
import { median, orchestrationPlan, startStack, waitSettled } from './_engine-stack.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'standby,fresh' },
    'lock-duration-ms': { type: 'string', default: String(STALL_DEFAULTS.lockDurationMs) },
    'stalled-interval-ms': { type: 'string', default: String(STALL_DEFAULTS.stalledIntervalMs) },
    'load-vms': { type: 'string', default: '0' },
    'load-runs': { type: 'string', default: '1' },
  },
});
const RUNS = Number(values.runs);
const MODES = (values.modes ?? '')
  .split(',')
  .filter((m): m is 'standby' | 'fresh' => m === 'standby' || m === 'fresh');
const LOCK_MS = Number(values['lock-duration-ms']);
const STALLED_MS = Number(values['stalled-interval-ms']);
const LOAD_VMS = Number(values['load-vms']);
const LOAD_RUNS = Number(values['load-runs']);
const SITE = 'dc-west';

function waitForReady(child: ChildProcess): Promise<void> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolveReady, reject) => {
    lines.on('line', (line) => {
      if (line.includes('"ready":true')) resolveReady();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${code ?? signal}) before it was ready`)),
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, get: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface DeathRow {
  mode: 'standby' | 'fresh';
  /** From the kill to the job active again on another worker (BullMQ's processedOn). */
  killToActiveMs: number;
  /** From the kill to the script running again (its first line, under its supervisor). */
  killToRerunMs: number;
  /** fresh: when the worker started after the kill said it was ready. */
  readyMs?: number;
  orphanAlive: boolean;
  rerunAttempt: string;
}

async function deathRuns(): Promise<DeathRow[]> {
  const redisServer = await startPrivateRedis();
  const redis = new Redis(redisServer.url);
  const world = createWorld({
    seed: 1,
    clock: { mode: 'scaled', speed: 1 },
    sites: [
      { name: 'dc-east', hosts: [{ name: 'east-h1' }], networks: [{ name: 'prod-east' }] },
      { name: SITE, hosts: [{ name: 'west-h1' }], networks: [{ name: 'prod-west' }] },
    ],
    links: [{ between: ['dc-east', SITE] }],
    vms: [],
  });
  world.start();
  const sim = await startSimServer(world.api);
  const catalog = mkdtempSync(join(tmpdir(), 'drorch-bench-death-'));
  const starts = join(catalog, 'starts.log');
  // The long step: records each start (its pid and DR_ATTEMPT), then takes a minute.
  writeFileSync(
    join(catalog, 'long-step'),
    `#!/bin/sh\necho "$$ $DR_ATTEMPT" >> "${starts}"\nexec sleep 60\n`,
  );
  chmodSync(join(catalog, 'long-step'), 0o755);
  const children = new Set<ChildProcess>();
  const worker = async (prefix: string): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [
        'bin/drctl.js',
        'worker',
        '--site',
        SITE,
        '--sim',
        sim.url,
        '--prefix',
        prefix,
        '--lock-duration-ms',
        String(LOCK_MS),
        '--stalled-interval-ms',
        String(STALLED_MS),
        '--script-catalog',
        catalog,
        '--shutdown-timeout-ms',
        '100',
        '--json',
      ],
      {
        env: { ...process.env, REDIS_URL: redisServer.url, LOG_LEVEL: 'error' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.add(child);
    child.once('exit', () => children.delete(child));
    await waitForReady(child);
    return child;
  };
  const startLines = (): string[][] =>
    existsSync(starts)
      ? readFileSync(starts, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
      : [];
  const rows: DeathRow[] = [];
  try {
    for (const mode of MODES) {
      for (let run = 1; run <= RUNS; run += 1) {
        const prefix = `death${mode}${run}`;
        rmSync(starts, { force: true });
        const queue = new Queue(siteQueueName(SITE), { connection: redis, ...bullOptions(prefix) });
        const first = await worker(prefix);
        const action: PlanAction = {
          name: 'long-step',
          when: 'after',
          run: { type: 'script', script: 'long-step', runOn: 'target', args: {} },
          timeoutMs: 120_000,
          on: ['planned'],
          directions: ['forward'],
          onFailure: { retries: 1, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' },
        };
        const data: StepJobData = {
          v: 1,
          execution: `bench-${mode}-${run}`,
          epoch: 1,
          type: 'planned',
          direction: 'forward',
          site: SITE,
          fromSite: 'dc-east',
          toSite: SITE,
          steps: ['action/long-step'],
          attempt: 1,
          plan: 'bench',
          action,
        };
        await queue.add('action', data, stepJobOptions(stepJobId(data.execution, 'action/long-step', 1)));
        const [pid] = await until('the first start', () => startLines()[0], 30_000);
        const standby = mode === 'standby' ? await worker(prefix) : undefined;
        const exited = once(first, 'exit');
        const killedAtEpoch = Date.now();
        const killedAt = performance.now();
        first.kill('SIGKILL');
        await exited;
        const fresh = mode === 'fresh' ? await worker(prefix) : undefined;
        const readyMs = fresh === undefined ? undefined : performance.now() - killedAt;
        const second = await until('the re-run', () => startLines()[1], 120_000);
        const killToRerunMs = performance.now() - killedAt;
        const job = await queue.getJob(stepJobId(data.execution, 'action/long-step', 1));
        const row: DeathRow = {
          mode,
          killToActiveMs: (job?.processedOn ?? Number.NaN) - killedAtEpoch,
          killToRerunMs,
          ...(readyMs === undefined ? {} : { readyMs }),
          orphanAlive: alive(Number(pid)),
          rerunAttempt: second[1] ?? '?',
        };
        rows.push(row);
        process.stderr.write(
          `${mode} run ${run}: active again after ${row.killToActiveMs} ms, script again after ${Math.round(killToRerunMs)} ms, orphan ${row.orphanAlive ? 'alive' : 'gone'}, DR_ATTEMPT ${row.rerunAttempt}\n`,
        );
        for (const child of [standby, fresh]) {
          if (child === undefined) continue;
          const gone = once(child, 'exit');
          child.kill('SIGTERM');
          await gone;
        }
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone, as it should be
        }
        await queue.obliterate({ force: true });
        await queue.close();
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    redis.disconnect();
    await sim.close();
    world.close();
    await redisServer.stop();
    rmSync(catalog, { recursive: true, force: true });
  }
  return rows;
}

interface LoadRow {
  run: number;
  status: string;
  wallMs: number;
  stalled: number;
  lostLocks: number;
  delays: { role: string; maxMs: number; p99Ms: number }[];
}

/** Planned failovers of an N-VM plan with every engine process's event-loop delay recorded. */
async function loadRuns(): Promise<LoadRow[]> {
  const { plan, hash } = orchestrationPlan(LOAD_VMS);
  const rows: LoadRow[] = [];
  for (let run = 1; run <= LOAD_RUNS; run += 1) {
    const dir = mkdtempSync(join(tmpdir(), 'drorch-bench-loop-'));
    const logs = join(dir, 'logs');
    const delays = join(dir, 'delays');
    for (const d of [logs, delays]) rmSync(d, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => Promise.all([fs.mkdir(logs), fs.mkdir(delays)]));
    const saved = { ...process.env };
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${resolve('bench/_loop-delay.mjs')}`;
    process.env.LOOP_DELAY_DIR = delays;
    process.env.LOG_DIR = logs;
    let stack: Awaited<ReturnType<typeof startStack>>;
    try {
      stack = await startStack(plan, { boot: '0-0', speed: 1 });
    } finally {
      process.env = saved;
    }
    let row: LoadRow;
    try {
      // The delays of the run itself, not of start-up (bench/_loop-delay.mjs).
      for (const file of readdirSync(delays).filter((f) => f.endsWith('.pid'))) {
        try {
          process.kill(Number(file.slice(0, -4)), 'SIGUSR2');
        } catch {
          // not running
        }
      }
      const started = Date.now();
      const { id } = await stack.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'bench',
        approveManual: true,
      });
      const view = await waitSettled(stack.client, id);
      let stalled = 0;
      for (const name of [siteQueueName(plan.source), siteQueueName(plan.target), CONTROL_QUEUE]) {
        const entries = await stack.redis.xrange(`{${stack.prefix}}:${name}:events`, '-', '+');
        stalled += entries.filter(([, fields]) => fields[1] === 'stalled').length;
      }
      row = { run, status: view.status, wallMs: Date.now() - started, stalled, lostLocks: 0, delays: [] };
    } finally {
      await stack.close();
    }
    for (const file of readdirSync(logs)) {
      const text = readFileSync(join(logs, file), 'utf8');
      row.lostLocks += text.split('\n').filter((l) => l.includes('lost the lock')).length;
    }
    for (const file of readdirSync(delays).filter((f) => f.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(join(delays, file), 'utf8')) as {
        argv: string[];
        maxMs: number;
        p99Ms: number;
      };
      const role = d.argv.includes('worker')
        ? `worker ${d.argv[d.argv.indexOf('--site') + 1] ?? ''}`
        : d.argv.includes('orchestrator')
          ? 'orchestrator'
          : 'world';
      row.delays.push({ role, maxMs: d.maxMs, p99Ms: d.p99Ms });
    }
    row.delays.sort((a, b) => a.role.localeCompare(b.role));
    rows.push(row);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.versions.node}`;
process.stdout.write(`machine: ${machine}; load average at start ${loadavg()[0]?.toFixed(1)}\n`);
process.stdout.write(
  `stall settings: lockDuration ${LOCK_MS} ms, stalledInterval ${STALLED_MS} ms (window ${LOCK_MS + STALLED_MS} ms)\n\n`,
);
if (RUNS > 0 && MODES.length > 0) {
  const rows = await deathRuns();
  process.stdout.write(
    '| other worker | runs | kill → job active again, median (max) | kill → script running again, median (min–max) | its start-up, median | orphans left | re-run DR_ATTEMPT |\n',
  );
  process.stdout.write(
    '| ------------ | ---: | ------------------------------------: | --------------------------------------------: | -------------------: | -----------: | ----------------- |\n',
  );
  for (const mode of MODES) {
    const mine = rows.filter((r) => r.mode === mode);
    const times = mine.map((r) => r.killToRerunMs);
    const active = mine.map((r) => r.killToActiveMs);
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const ready = mine.flatMap((r) => (r.readyMs === undefined ? [] : [r.readyMs]));
    process.stdout.write(
      `| ${mode} | ${mine.length} | ${s(median(active))} (${s(Math.max(...active))}) | ${s(median(times))} (${s(Math.min(...times))}–${s(Math.max(...times))}) | ${ready.length ? s(median(ready)) : 'running'} | ${mine.filter((r) => r.orphanAlive).length} | ${[...new Set(mine.map((r) => r.rerunAttempt))].join(', ')} |\n`,
    );
  }
}
if (LOAD_VMS > 0) {
  const rows = await loadRuns();
  process.stdout.write(
    `\nplanned failover of ${LOAD_VMS} VMs, default stall settings; load average now ${loadavg()[0]?.toFixed(1)}\n`,
  );
  process.stdout.write(
    '| run | status | wall | jobs stalled | locks lost | event-loop delay, max (p99) per process |\n',
  );
  process.stdout.write(
    '| --: | ------ | ---: | -----------: | ---------: | --------------------------------------- |\n',
  );
  for (const row of rows) {
    const delays = row.delays
      .map((d) => `${d.role} ${Math.round(d.maxMs)} (${Math.round(d.p99Ms)}) ms`)
      .join('; ');
    process.stdout.write(
      `| ${row.run} | ${row.status} | ${(row.wallMs / 1000).toFixed(1)} s | ${row.stalled} | ${row.lostLocks} | ${delays} |\n`,
    );
  }
}
