/**
 * An action whose worker process is SIGKILLed mid-script (real `drctl worker` processes, real
 * Redis and BullMQ; the host under the script dies with it): the next worker runs it again only as
 * the action's retry policy allows, and the event log says so; the script's own side-effect file
 * is the judge of how many times it ran.
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

function runsIn(file: string): { starts: string[]; ends: string[] } {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
  return {
    starts: lines.filter((l) => l.startsWith('start ')).map((l) => l.slice(6)),
    ends: lines.filter((l) => l.startsWith('end ')).map((l) => l.slice(4)),
  };
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

  async function killedMidScript(retries: number) {
    const prefix = uniquePrefix('actkill');
    world = twoSiteWorld(['web-01'], { speed: 10 });
    server = await startSimServer(world.api);
    queue = new Queue(siteQueueName(TARGET), { connection: redis, ...bullOptions(prefix) });
    catalog = mkdtempSync(join(tmpdir(), 'dr-kill-catalog-'));
    const ledger = join(catalog, 'dns-updates.log');
    // A DNS update that records each run's start and end (its side effect) and takes 2 s.
    writeFileSync(
      join(catalog, 'update-dns'),
      `#!/bin/sh\necho "start $$" >> "${ledger}"\nsleep 2\necho "end $$" >> "${ledger}"\n`,
    );
    chmodSync(join(catalog, 'update-dns'), 0o755);
    const action: PlanAction = {
      name: 'update-dns',
      when: 'after',
      vm: 'web-01',
      run: { type: 'script', script: 'update-dns', runOn: 'target', args: {} },
      timeoutMs: 30_000,
      on: ['planned'],
      directions: ['forward'],
      onFailure: { retries, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' },
    };
    const data = jobData('planned', TARGET, ['action/update-dns'], { action, plan: 'erp' });
    const jobId = stepJobId(data.execution, 'action/update-dns', 1);

    const first = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(first);
    await queue.add('action', data, stepJobOptions(jobId));
    const deadline = Date.now() + 25_000;
    while (runsIn(ledger).starts.length === 0) {
      if (Date.now() > deadline) throw new Error('the script never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    // The worker dies, and the script with it (as when its machine goes down).
    await kill(first);
    const [pid] = runsIn(ledger).starts;
    try {
      process.kill(-Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
    const second = await spawnWorker(server.url, prefix, ['--script-catalog', catalog]);
    children.push(second);
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 90_000);
    const events = (await readAllEvents(redis, prefix, data.execution)).map((e) => e.event);
    return { completion, runs: runsIn(ledger), events };
  }

  it('retries: 1 — runs it once more, and the event log says it is a re-run and why', async () => {
    const { completion, runs, events } = await killedMidScript(1);
    expect(completion.result.steps[0]?.outcome).toBe('done');
    expect(runs.starts).toHaveLength(2);
    expect(runs.ends).toHaveLength(1);
    const rerun = events.filter((e) => e.type === 'action-rerun');
    expect(rerun).toHaveLength(1);
    expect(rerun[0]).toMatchObject({ step: 'action/update-dns', previous: { job: completion.jobId } });
    expect(rerun[0]?.type === 'action-rerun' && rerun[0].reason).toMatch(
      /never finished.*run 2 of at most 2/,
    );
  });

  it('retries: 0 — does not run it again: the step fails ACTION_INTERRUPTED for the plan to decide', async () => {
    const { completion, runs, events } = await killedMidScript(0);
    const step = completion.result.steps[0];
    expect(step?.outcome).toBe('failed');
    expect(step?.error).toMatchObject({ code: 'ACTION_INTERRUPTED', retryable: false });
    expect(runs.starts).toHaveLength(1);
    expect(runs.ends).toHaveLength(0);
    expect(events.some((e) => e.type === 'action-rerun')).toBe(false);
  });
});
