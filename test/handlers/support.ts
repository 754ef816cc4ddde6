import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import type { ExecutionEvent, ExecutionType, StepJobData } from '../../engine/contract/index.ts';
import {
  type EventSink,
  type HandlerOptions,
  resolveHandlerOptions,
  runStepJob,
  type StepJobRun,
} from '../../engine/executor/handlers/index.ts';
import { type Completion, readCompletions } from '../../engine/executor/index.ts';
import { createSightingStore, type SightingStore } from '../../engine/locks/index.ts';
import type { HyperVApi } from '../../simulators/api.ts';
import { createWorld, type World } from '../../simulators/create-world.ts';
import type { VmSpec, WorldSpec } from '../../simulators/spec.ts';
import { tracked } from '../support/children.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

export const SOURCE = 'dc-east';
export const TARGET = 'dc-west';

/**
 * Two sites, one host each (plus a drill network and a production network at the target). Time is
 * scaled (100 simulated ms per real ms) so a 5 s boot takes 50 ms, or manual.
 */
export function twoSiteWorld(
  vms: string[],
  options: {
    maxConcurrentBoots?: number;
    bootMs?: number;
    speed?: number;
    /** A manual clock: time moves only by `world.advance` (see whileAdvancing). */
    manual?: boolean;
    vm?: Partial<VmSpec>;
  } = {},
): World {
  const spec: WorldSpec = {
    seed: 7,
    clock: options.manual ? { mode: 'manual' } : { mode: 'scaled', speed: options.speed ?? 100 },
    sites: [
      { name: SOURCE, hosts: [{ name: 'east-h1' }], networks: [{ name: 'prod-east' }] },
      {
        name: TARGET,
        hosts: [{ name: 'west-h1', maxConcurrentBoots: options.maxConcurrentBoots ?? 8 }],
        networks: [{ name: 'prod-west' }, { name: 'drill-net', isolated: true }],
      },
    ],
    links: [{ between: [SOURCE, TARGET] }],
    vms: vms.map((name) => ({
      name,
      site: SOURCE,
      host: 'east-h1',
      network: { network: 'prod-east' },
      boot: options.bootMs ?? 5000,
      replication: { site: TARGET, host: 'west-h1', frequencySec: 30, recoveryPoints: 2 },
      ...options.vm,
    })),
  };
  const world = createWorld(spec);
  world.start();
  // A few replication cycles, so replicas hold recovery points.
  world.advance(120_000);
  return world;
}

/**
 * Run `work` on a manual clock, moving simulated time `stepMs` per turn of the event loop until it
 * settles: what the world does in between depends only on the calls made, never on the machine's load.
 */
export async function whileAdvancing<T>(world: World, work: Promise<T>, stepMs = 1000): Promise<T> {
  let settled = false;
  const finished = work.finally(() => {
    settled = true;
  });
  finished.catch(() => {});
  while (!settled) {
    world.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return await finished;
}

/**
 * The source half of an unplanned failover, as the compiled plan runs it before the VM's failover:
 * the `<vm>/fence` job at the source site (turn the old primary off, bar it under the epoch).
 */
export async function fenceSource(api: HyperVApi, vm: string, epoch = 1): Promise<void> {
  const run = await runJob(api, jobData('unplanned', SOURCE, [`${vm}/fence`], { vm, epoch }));
  const outcome = run.result.steps[0]?.outcome;
  if (outcome !== 'done') throw new Error(`fencing ${vm} at ${SOURCE} ended ${outcome}`);
}

export function jobData(
  type: ExecutionType,
  site: string,
  steps: string[],
  extra: Partial<StepJobData> = {},
): StepJobData {
  return {
    v: 1,
    execution: 'ex1',
    epoch: 1,
    type,
    direction: 'forward',
    site,
    fromSite: SOURCE,
    toSite: TARGET,
    steps,
    attempt: 1,
    ...extra,
  };
}

/** Collects appended events in memory, counting the appends (round trips). */
export class MemorySink implements EventSink {
  readonly events: ExecutionEvent[] = [];
  appends = 0;
  async append(events: readonly ExecutionEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.appends += 1;
    this.events.push(...events);
  }
}

const silent = createLogger('test', { level: 'silent', pretty: false });

/**
 * The engine's sightings store (engine/locks) on the run's Redis, one prefix per world (API), so
 * the jobs of one test share what their handlers saw (a shutdown's time, for the planned proof).
 */
let sightingsRedis: Redis | undefined;
const sightingStores = new WeakMap<object, SightingStore>();
afterAll(async () => {
  await sightingsRedis?.quit();
  sightingsRedis = undefined;
});
export function sightingsFor(api: HyperVApi): SightingStore {
  let store = sightingStores.get(api);
  if (store === undefined) {
    sightingsRedis ??= testRedisClient();
    store = createSightingStore(sightingsRedis, uniquePrefix('seen'));
    sightingStores.set(api, store);
  }
  return store;
}

/** Run a job straight through the handlers (no queue). */
export async function runJob(
  api: HyperVApi,
  data: StepJobData,
  options: {
    sink?: MemorySink;
    handlers?: HandlerOptions;
    jobId?: string;
    /** A fence job run after its step was recorded final (the worker's `lateFence`). */
    late?: { failedOver: boolean };
  } = {},
): Promise<StepJobRun> {
  return await runStepJob(options.jobId ?? `${data.execution}.${data.steps[0]}`, data, {
    api,
    ...(options.late ? { late: true, lateFailedOver: options.late.failedOver } : {}),
    log: silent,
    sightings: sightingsFor(api),
    events: options.sink ?? new MemorySink(),
    options: resolveHandlerOptions({ bootRetryInitialMs: 5, probeIntervalMs: 10, ...options.handlers }),
    signal: new AbortController().signal,
  });
}

/** Mutating calls the simulator counted for one VM at one site: op → calls. */
export function mutations(world: World, vm: string, site: string): Record<string, number> {
  return world.truth().mutations[vm]?.[site] ?? {};
}

/** Wait for the completion of `jobId` in the execution's completions stream. */
export async function waitForCompletion(
  redis: Redis,
  prefix: string,
  execution: string,
  jobId: string,
  timeoutMs = 20_000,
): Promise<Completion> {
  const deadline = Date.now() + timeoutMs;
  let after = '0';
  while (Date.now() < deadline) {
    const batch = await readCompletions(redis, prefix, execution, after, { blockMs: 200 });
    const found = batch.find((c) => c.jobId === jobId);
    if (found) return found;
    after = batch.at(-1)?.id ?? after;
  }
  throw new Error(`no completion for ${jobId} within ${timeoutMs} ms`);
}

/** What `drctl worker --json` says when it is ready (worker-command.ts). */
export interface WorkerReadyLine {
  ready: true;
  site: string;
  queue: string;
  pid: number;
  lockDurationMs: number;
  lockRenewMs: number;
  stalledIntervalMs: number;
}

/**
 * `drctl worker` of the target site as a real child process (short lock and stall intervals, so a
 * killed one's jobs go to the next soon; `stall: 'default'` keeps the worker's own); resolves once
 * it says it is ready, with its ready line.
 */
export async function spawnWorker(
  sim: string,
  prefix: string,
  extra: string[] = [],
  options: { stall?: 'short' | 'default' } = {},
): Promise<ChildProcess & { readyLine: WorkerReadyLine }> {
  const stall =
    options.stall === 'default' ? [] : ['--lock-duration-ms', '1500', '--stalled-interval-ms', '500'];
  const child = tracked(
    spawn(
      process.execPath,
      [
        'bin/drctl.js',
        'worker',
        '--site',
        TARGET,
        '--sim',
        sim,
        '--prefix',
        prefix,
        ...stall,
        '--json',
        ...extra,
      ],
      {
        env: { ...process.env, REDIS_URL: testRedisUrl(), LOG_LEVEL: 'error', LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(() => {
    throw new Error('worker exited before it was ready');
  });
  const ready = (async () => {
    for await (const line of lines)
      if (line.includes('"ready":true')) return JSON.parse(line) as WorkerReadyLine;
    throw new Error('worker closed its output before it was ready');
  })();
  const readyLine = await Promise.race([ready, exited]);
  return Object.assign(child, { readyLine });
}
