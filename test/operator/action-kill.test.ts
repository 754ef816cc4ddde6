/**
 * An action whose worker process is SIGKILLed mid-script (real `drctl worker` processes, real
 * Redis and BullMQ): the script dies with its worker (its supervisor kills the script's process
 * group when the worker's pipe closes), the next worker runs it again only as the action's retry
 * policy allows, under a new attempt number, and the event log says so; the script's own
 * side-effect file is the judge of how many times it ran.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bullOptions,
  readAllEvents,
  siteQueueName,
  stepJobId,
  stepJobOptions,
} from '../../engine/executor/index.ts';
import type { PlanAction } from '../../engine/plan/types.ts';
import { type SimServer, startSimServer, type World } from '../../simulators/index.ts';
import { jobData, spawnWorker, TARGET, twoSiteWorld, waitForCompletion } from '../handlers/support.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Each run's start and end, as `<pid> <DR_ATTEMPT>`. */
function runsIn(file: string): { starts: string[]; ends: string[] } {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
  return {
    starts: lines.filter((l) => l.startsWith('start ')).map((l) => l.slice(6)),
    ends: lines.filter((l) => l.startsWith('end ')).map((l) => l.slice(4)),
  };
}

/** The process exists and is not a zombie (Linux /proc: a zombie has ended; only its status waits). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('when the worker running an action is killed mid-script', { timeout: 180_000 }, () => {
  let redis: Redis;
  let world: World;
  let server: SimServer;
  let queue: Queue | undefined;
  let catalog: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await kill(child);
    await queue?.close();
    await server?.close();
    world?.close();
    rmSync(catalog, { recursive: true, force: true });
  });

  /** A catalog whose `update-dns` is `body` (after a line recording its start), and its job. */
  async function setUp(retries: number, body: string) {
    const prefix = uniquePrefix('actkill');
    world = twoSiteWorld(['web-01'], { speed: 10 });
    server = await startSimServer(world.api);
    queue = new Queue(siteQueueName(TARGET), { connection: redis, ...bullOptions(prefix) });
    catalog = mkdtempSync(join(tmpdir(), 'dr-kill-catalog-'));
    const ledger = join(catalog, 'dns-updates.log');
    writeFileSync(
      join(catalog, 'update-dns'),
      `#!/bin/sh\nLEDGER="${ledger}"\necho "start $$ $DR_ATTEMPT" >> "$LEDGER"\n${body}\n`,
    );
    chmodSync(join(catalog, 'update-dns'), 0o755);
    const action: PlanAction = {
      name: 'update-dns',
      when: 'after',
      vm: 'web-01',
      run: { type: 'script', script: 'update-dns', runOn: 'target', args: {} },
      timeoutMs: 120_000,
      on: ['planned'],
      directions: ['forward'],
      onFailure: { retries, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' },
    };
    const data = jobData('planned', TARGET, ['action/update-dns'], { action, plan: 'erp' });
    const jobId = stepJobId(data.execution, 'action/update-dns', 1);
    return { prefix, ledger, data, jobId };
  }

  async function until(what: string, check: () => boolean, timeoutMs = 25_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function killedMidScript(retries: number) {
    // A DNS update that records each run's start and end (its side effect) and takes 2 s; a child
    // of its own (sleep) is in its process group.
    const { prefix, ledger, data, jobId } = await setUp(
      retries,
      'sleep 2\necho "end $$ $DR_ATTEMPT" >> "$LEDGER"',
    );
    const first = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(first);
    await queue?.add('action', data, stepJobOptions(jobId));
    await until('the script to start', () => runsIn(ledger).starts.length > 0);
    // The worker dies; its script must not run on as an orphan (bug: it did, and its end was
    // written beside the re-run's, under the same DR_ATTEMPT).
    await kill(first);
    const pid = Number(runsIn(ledger).starts[0]?.split(' ')[0]);
    const gone = Date.now() + 10_000;
    while (alive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 10));
    const orphanAlive = alive(pid);
    const second = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(second);
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 90_000);
    const events = (await readAllEvents(redis, prefix, data.execution)).map((e) => e.event);
    return { completion, runs: runsIn(ledger), events, orphanAlive };
  }

  it('retries: 1 — the script dies with its worker; runs it once more as attempt 2, and the event log says it is a re-run and why', async () => {
    const { completion, runs, events, orphanAlive } = await killedMidScript(1);
    expect(orphanAlive).toBe(false);
    expect(completion.result.steps[0]?.outcome).toBe('done');
    // Bug: the re-run got the same DR_ATTEMPT as the run it replaced.
    expect(runs.starts.map((s) => s.split(' ')[1])).toEqual(['1', '2']);
    expect(runs.ends.map((s) => s.split(' ')[1])).toEqual(['2']);
    const rerun = events.filter((e) => e.type === 'action-rerun');
    expect(rerun).toHaveLength(1);
    expect(rerun[0]).toMatchObject({
      step: 'action/update-dns',
      attempt: 2,
      previous: { job: completion.jobId, attempt: 1 },
    });
    expect(completion.result.steps[0]?.output).toMatchObject({ attempt: 2 });
    expect(rerun[0]?.type === 'action-rerun' && rerun[0].reason).toMatch(
      /never finished.*run 2 of at most 2/,
    );
  });

  it('retries: 0 — does not run it again: the step fails ACTION_INTERRUPTED for the plan to decide', async () => {
    const { completion, runs, events, orphanAlive } = await killedMidScript(0);
    expect(orphanAlive).toBe(false);
    const step = completion.result.steps[0];
    expect(step?.outcome).toBe('failed');
    expect(step?.error).toMatchObject({ code: 'ACTION_INTERRUPTED', retryable: false });
    expect(runs.starts).toHaveLength(1);
    expect(runs.ends).toHaveLength(0);
    expect(events.some((e) => e.type === 'action-rerun')).toBe(false);
  });

  it('SIGTERM to the worker kills the whole process group of its script: SIGTERM, then SIGKILL after the grace', async () => {
    // A script that ignores SIGTERM, as does the child it leaves in the background.
    const { prefix, ledger, data, jobId } = await setUp(
      1,
      'trap \'\' TERM\nsleep 60 &\necho "child $!" >> "$LEDGER"\nsleep 60',
    );
    const worker = await spawnWorker(server.url, prefix, [
      '--script-catalog',
      catalog,
      '--shutdown-timeout-ms',
      '100',
    ]);
    children.push(worker);
    await queue?.add('action', data, stepJobOptions(jobId));
    const lines = (): string[] => (existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []);
    await until('the script and its child to start', () => lines().some((l) => l.startsWith('child ')));
    const script = Number(lines()[0]?.split(' ')[1]);
    const child = Number(lines()[1]?.split(' ')[1]);
    expect(alive(script) && alive(child)).toBe(true);
    const exited = once(worker, 'exit');
    worker.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    await until('the script and its child to be gone', () => !alive(script) && !alive(child), 15_000);
  });

  it('the job of a SIGKILLed `drctl worker` with its default stall settings runs again on another worker within lockDuration + stalledInterval', async () => {
    const { prefix, ledger, data, jobId } = await setUp(1, 'sleep 60');
    const first = await spawnWorker(server.url, prefix, ['--script-catalog', catalog], { stall: 'default' });
    children.push(first);
    const { lockDurationMs, lockRenewMs, stalledIntervalMs } = first.readyLine;
    // The settings the issue asks for (bug: 30 s + 30 s, so 30-60 s of stall): at most 5 s, and a
    // live worker's lock, renewed every lockRenewMs, survives an event loop blocked for 3 s
    // (BENCHMARKS.md: 1.7 s at most under a 10,000-VM failover on a loaded machine).
    expect(lockDurationMs + stalledIntervalMs).toBeLessThanOrEqual(5000);
    expect(lockDurationMs - lockRenewMs).toBeGreaterThanOrEqual(3000);
    await queue?.add('action', data, stepJobOptions(jobId));
    await until('the script to start', () => runsIn(ledger).starts.length > 0);
    const standby = await spawnWorker(server.url, prefix, ['--script-catalog', catalog], {
      stall: 'default',
    });
    children.push(standby);
    expect(standby.readyLine).toMatchObject({ lockDurationMs, stalledIntervalMs });
    const killedAt = Date.now();
    await kill(first);
    await until('the re-run', () => runsIn(ledger).starts.length > 1, 60_000);
    const stalledForMs = Date.now() - killedAt;
    // The lock lapses at most lockDuration after the death and the next check (every
    // stalledInterval) moves the job; one more interval of slack for a loaded machine.
    expect(stalledForMs).toBeLessThanOrEqual(lockDurationMs + 2 * stalledIntervalMs);
    expect(runsIn(ledger).starts[1]?.split(' ')[1]).toBe('2');
  });

  it('when the supervisor died with the worker, the re-run ends what is left of the script first', async () => {
    // The first run would take a minute; the re-run is quick.
    const { prefix, ledger, data, jobId } = await setUp(
      1,
      'if [ "$DR_ATTEMPT" = 1 ]; then sleep 60; fi\necho "end $$ $DR_ATTEMPT" >> "$LEDGER"',
    );
    const first = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(first);
    await queue?.add('action', data, stepJobOptions(jobId));
    await until('the script to start', () => runsIn(ledger).starts.length > 0);
    const script = Number(runsIn(ledger).starts[0]?.split(' ')[0]);
    const stat = readFileSync(`/proc/${script}/stat`, 'utf8');
    const supervisor = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    // The supervisor is frozen, so it cannot see its worker die, then killed with it (as the OOM
    // killer might): the script is an orphan, its group still there.
    process.kill(supervisor, 'SIGSTOP');
    await kill(first);
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor to be gone', () => !alive(supervisor));
    expect(alive(script)).toBe(true);

    const second = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(second);
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 90_000);
    expect(completion.result.steps[0]?.outcome).toBe('done');
    await until('the orphan to be gone', () => !alive(script), 5000);
    expect(runsIn(ledger).ends.map((e) => e.split(' ')[1])).toEqual(['2']);
    const events = (await readAllEvents(redis, prefix, data.execution)).map((e) => e.event);
    const rerun = events.find((e) => e.type === 'action-rerun');
    expect(rerun?.type === 'action-rerun' && rerun.reason).toMatch(
      new RegExp(`process\\(es\\) of its process group ${supervisor} still ran and were killed`),
    );
  });
});
