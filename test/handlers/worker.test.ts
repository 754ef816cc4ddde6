import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  bullOptions,
  readAllEvents,
  type SiteWorkers,
  type StepJobData,
  siteQueueName,
  startSiteWorkers,
  stepJobId,
  stepJobOptions,
} from '../../engine/executor/index.ts';
import type { PlanAction } from '../../engine/plan/types.ts';
import type { World } from '../../simulators/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { fenceSource, jobData, mutations, TARGET, twoSiteWorld, waitForCompletion } from './support.ts';

describe('site worker', () => {
  let redis: Redis;
  let world: World;
  let workers: SiteWorkers;
  let queue: Queue;
  let prefix: string;

  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    await workers?.close(2000);
    await queue?.close();
    world?.close();
  });

  function siteWorkers(scriptCatalog?: string): SiteWorkers {
    return startSiteWorkers({
      ...(scriptCatalog === undefined ? {} : { handlers: { scriptCatalog } }),
      redisUrl: testRedisUrl(),
      prefix,
      site: TARGET,
      api: world.api,
      concurrency: 50,
      lockDurationMs: 2000,
      stalledIntervalMs: 1000,
      logger: createLogger('test', { level: 'silent', pretty: false }),
    });
  }

  async function start(vms: string[], bootMs?: number, scriptCatalog?: string): Promise<void> {
    prefix = uniquePrefix('hw');
    world = twoSiteWorld(vms, bootMs === undefined ? {} : { bootMs });
    workers = siteWorkers(scriptCatalog);
    await workers.ready();
    queue = new Queue(siteQueueName(TARGET), { connection: redis, ...bullOptions(prefix) });
  }

  async function enqueue(data: StepJobData): Promise<string> {
    const jobId = stepJobId(data.execution, data.steps[0] ?? '', data.attempt);
    await queue.add(data.steps[0] ?? 'step', data, stepJobOptions(jobId));
    return jobId;
  }

  it('runs a job, logs schema-valid events and publishes the result before completing', async () => {
    await start(['db-1']);
    await fenceSource(world.api, 'db-1');
    const data = jobData('unplanned', TARGET, ['db-1/failover', 'db-1/boot', 'db-1/readiness'], {
      vm: 'db-1',
      readiness: { checks: [{ kind: 'heartbeat' }], timeoutMs: 600_000, onTimeout: 'fail' },
    });
    const jobId = await enqueue(data);
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId);
    expect(completion.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    expect(completion.result.recoveryPoint).toBeDefined();

    const job = await queue.getJob(jobId);
    await expect.poll(async () => await job?.getState()).toBe('completed');
    const events = (await readAllEvents(redis, prefix, data.execution)).map((e) => e.event);
    expect(events.map((e) => e.type)).toEqual([
      'step-started',
      'vm-phase',
      'step-finished',
      'step-started',
      'vm-phase',
      'step-finished',
      'step-started',
      'vm-phase',
      'step-finished',
      'vm-phase',
    ]);
    expect(mutations(world, 'db-1', TARGET)).toEqual({ 'startVMFailover.failover': 1, startVM: 1 });
  });

  describe('when the job carries a stale epoch', () => {
    it('publishes the failure and fails the job without retry', async () => {
      await start(['db-1']);
      await world.api.connectVMNetwork({ site: TARGET, vm: 'db-1', epoch: 9, network: 'prod-west' });
      const data = jobData('unplanned', TARGET, ['db-1/failover', 'db-1/boot'], { vm: 'db-1', epoch: 3 });
      const jobId = await enqueue(data);
      const completion = await waitForCompletion(redis, prefix, data.execution, jobId);
      expect(completion.result.steps.map((s) => s.outcome)).toEqual(['failed', 'skipped']);
      const job = await queue.getJob(jobId);
      await expect.poll(async () => await job?.getState()).toBe('failed');
      const failed = await queue.getJob(jobId);
      expect(failed?.failedReason).toMatch(/^STALE_EPOCH: /);
      expect(failed?.attemptsMade).toBe(1);
    });
  });

  describe('when the payload is not StepJobData v1', () => {
    it('fails the job with a clear reason', async () => {
      await start(['db-1']);
      await queue.add('junk', { v: 2, execution: 'ex1' }, stepJobOptions('ex1.junk'));
      const job = await queue.getJob('ex1.junk');
      await expect.poll(async () => await job?.getState()).toBe('failed');
      expect((await queue.getJob('ex1.junk'))?.failedReason).toMatch(/not StepJobData v1/);
    });
  });

  describe('when the worker shuts down with a job still running', () => {
    it('hands the job back instead of failing it, and the next worker finishes it without repeating calls', async () => {
      await start(['db-1'], 100_000); // a 1 s boot
      await fenceSource(world.api, 'db-1');
      const data = jobData('unplanned', TARGET, ['db-1/failover', 'db-1/boot', 'db-1/readiness'], {
        vm: 'db-1',
        readiness: { checks: [{ kind: 'heartbeat' }], timeoutMs: 600_000, onTimeout: 'fail' },
      });
      const jobId = await enqueue(data);
      await expect.poll(async () => (await world.api.getVM(TARGET, 'db-1')).state).toBe('Starting');
      await workers.close(50);
      expect(['delayed', 'waiting']).toContain(await queue.getJobState(jobId));

      workers = siteWorkers();
      const completion = await waitForCompletion(redis, prefix, data.execution, jobId);
      expect(completion.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      expect(completion.result.alreadyDone).toBe(true);
      expect(mutations(world, 'db-1', TARGET)).toEqual({ 'startVMFailover.failover': 1, startVM: 1 });
    });
  });

  describe('when an action job runs again after its script finished', () => {
    it('returns the recorded result instead of running the script twice', async () => {
      const catalog = mkdtempSync(join(tmpdir(), 'dr-catalog-'));
      const runs = join(catalog, 'runs.txt');
      writeFileSync(join(catalog, 'flush-dns.sh'), `echo run >> "${runs}"\necho flushed\n`);
      try {
        await start([], undefined, catalog);
        const action: PlanAction = {
          name: 'flush-dns',
          when: 'after',
          vm: 'db-1',
          run: { type: 'script', script: 'flush-dns', runOn: 'target', args: {} },
          timeoutMs: 5000,
          on: ['unplanned'],
          directions: ['forward'],
          onFailure: {
            retries: 0,
            backoff: { initialMs: 1000, factor: 2, maxMs: 1000 },
            outcome: 'fail-plan',
          },
        };
        const data = jobData('unplanned', TARGET, ['action/flush-dns'], { action });
        const jobId = await enqueue(data);
        const first = await waitForCompletion(redis, prefix, data.execution, jobId);
        expect(first.result.steps[0]?.output?.stdout).toBe('flushed\n');
        await expect.poll(async () => await queue.getJobState(jobId)).toBe('completed');

        // The same job id again, as after a worker death between the script and the completion.
        await (await queue.getJob(jobId))?.remove();
        await redis.del(`${prefix}:{exec:${data.execution}}:completions`);
        await enqueue(data);
        const again = await waitForCompletion(redis, prefix, data.execution, jobId);
        expect(again.result.steps[0]).toMatchObject({
          outcome: 'done',
          output: { repeated: true, stdout: 'flushed\n' },
        });
        expect(again.result.alreadyDone).toBe(true);
        expect(readFileSync(runs, 'utf8')).toBe('run\n');
      } finally {
        rmSync(catalog, { recursive: true, force: true });
      }
    });
  });
});
