import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bullOptions,
  type StepJobData,
  siteQueueName,
  stepJobId,
  stepJobOptions,
} from '../../engine/executor/index.ts';
import { type SimServer, startSimServer, type World } from '../../simulators/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';
import {
  fenceSource,
  jobData,
  mutations,
  spawnWorker,
  TARGET,
  twoSiteWorld,
  waitForCompletion,
} from './support.ts';

const readiness = {
  checks: [{ kind: 'heartbeat' as const }],
  timeoutMs: 600_000,
  onTimeout: 'fail' as const,
};

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 25_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

// Real processes on a machine that may be busy: generous test timeouts, no timing assertions.
describe('when a worker process is killed mid-boot', { timeout: 90_000 }, () => {
  let redis: Redis;
  let world: World;
  let server: SimServer;
  let queue: Queue;
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
  });

  async function setUp(vms: string[], options: { maxConcurrentBoots?: number } = {}): Promise<string> {
    const prefix = uniquePrefix('kill');
    // 40 s boots at 10× speed: 4 s of real time in which to kill the worker, even on a loaded machine.
    world = twoSiteWorld(vms, { bootMs: 40_000, speed: 10, ...options });
    server = await startSimServer(world.api);
    queue = new Queue(siteQueueName(TARGET), { connection: redis, ...bullOptions(prefix) });
    return prefix;
  }

  async function enqueue(data: StepJobData): Promise<string> {
    const jobId = stepJobId(data.execution, data.steps[0] ?? '', data.attempt);
    await queue.add(data.steps[0] ?? 'step', data, stepJobOptions(jobId));
    return jobId;
  }

  it('another worker picks the job up and the VM is started exactly once', async () => {
    const prefix = await setUp(['app-01']);
    await fenceSource(world.api, 'app-01');
    const first = await spawnWorker(server.url, prefix);
    children.push(first);
    const data = jobData('unplanned', TARGET, ['app-01/failover', 'app-01/boot', 'app-01/readiness'], {
      vm: 'app-01',
      readiness,
    });
    const jobId = await enqueue(data);
    await until(
      'the VM to be booting',
      async () => (await world.api.getVM(TARGET, 'app-01')).state === 'Starting',
    );
    await kill(first);

    const second = await spawnWorker(server.url, prefix);
    children.push(second);
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 30_000);

    expect(completion.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    expect(completion.result.alreadyDone).toBe(true);
    expect((await world.api.getVM(TARGET, 'app-01')).state).toBe('Running');
    expect(mutations(world, 'app-01', TARGET)).toEqual({ 'startVMFailover.failover': 1, startVM: 1 });
    expect(world.truth().failovers.filter((f) => f.vm === 'app-01')).toHaveLength(1);
  });

  it('a job waiting for a boot slot is taken over without a second accepted Start-VM', async () => {
    const prefix = await setUp(['blocker', 'app-01'], { maxConcurrentBoots: 1 });
    for (const vm of ['blocker', 'app-01']) {
      await world.api.startVMFailover({
        site: TARGET,
        vm,
        epoch: 1,
        mode: 'failover',
        recoveryPoint: { kind: 'latest' },
      });
    }
    // The blocker holds the host's only boot slot until the test turns it off.
    world.fault({ kind: 'boot', vm: 'blocker', site: TARGET, mode: 'slow', factor: 1000 });
    await world.api.startVM({ site: TARGET, vm: 'blocker', epoch: 1 });
    const refusals = (): number => world.truth().refused['app-01']?.[TARGET]?.HOST_BOOT_LIMIT ?? 0;

    const first = await spawnWorker(server.url, prefix);
    children.push(first);
    const data = jobData('unplanned', TARGET, ['app-01/boot'], { vm: 'app-01' });
    const jobId = await enqueue(data);
    await until('the boot to hit the host limit', async () => refusals() > 0);
    await kill(first);
    const beforeTakeover = refusals();

    const second = await spawnWorker(server.url, prefix);
    children.push(second);
    await until('the second worker to take the job over', async () => refusals() > beforeTakeover, 20_000);
    await world.api.stopVM({ site: TARGET, vm: 'blocker', epoch: 1, turnOff: true });
    const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 30_000);

    expect(completion.result.steps.map((s) => s.outcome)).toEqual(['done']);
    const calls = mutations(world, 'app-01', TARGET).startVM ?? 0;
    expect(calls - refusals()).toBe(1);
    expect(['Starting', 'Running']).toContain((await world.api.getVM(TARGET, 'app-01')).state);
  });

  describe('when the worker process is told to stop (SIGTERM) mid-boot', () => {
    it('exits 0, handing the job back, and the next worker finishes it without repeating calls', async () => {
      const prefix = await setUp(['app-01']);
      await fenceSource(world.api, 'app-01');
      const first = await spawnWorker(server.url, prefix, ['--shutdown-timeout-ms', '100']);
      children.push(first);
      const data = jobData('unplanned', TARGET, ['app-01/failover', 'app-01/boot', 'app-01/readiness'], {
        vm: 'app-01',
        readiness,
      });
      const jobId = await enqueue(data);
      await until(
        'the VM to be booting',
        async () => (await world.api.getVM(TARGET, 'app-01')).state === 'Starting',
      );
      const exited = once(first, 'exit');
      first.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(['delayed', 'waiting']).toContain(await queue.getJobState(jobId));

      const second = await spawnWorker(server.url, prefix);
      children.push(second);
      const completion = await waitForCompletion(redis, prefix, data.execution, jobId, 30_000);
      expect(completion.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      expect(completion.result.alreadyDone).toBe(true);
      expect(mutations(world, 'app-01', TARGET)).toEqual({ 'startVMFailover.failover': 1, startVM: 1 });
    });
  });
});
