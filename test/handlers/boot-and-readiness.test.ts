import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { bootHandler, resolveHandlerOptions } from '../../engine/executor/handlers/index.ts';
import type { World } from '../../simulators/create-world.ts';
import { fenceSource, jobData, MemorySink, mutations, runJob, TARGET, twoSiteWorld } from './support.ts';

const VMS = ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5', 'vm-6'];

async function failOverAll(world: World, vms: string[]): Promise<void> {
  for (const vm of vms) {
    await world.api.startVMFailover({
      site: TARGET,
      vm,
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'latest' },
    });
  }
}

describe('boot', () => {
  let world: World;
  afterEach(() => world?.close());

  describe('when more VMs boot than the host allows at once', () => {
    it('never has more booting than maxConcurrentBoots, and starts each VM exactly once', async () => {
      world = twoSiteWorld(VMS, { maxConcurrentBoots: 2, bootMs: 3000 });
      await failOverAll(world, VMS);
      let maxBooting = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const host = (await world.api.listHosts(TARGET))[0];
          maxBooting = Math.max(maxBooting, host?.booting ?? 0);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const runs = await Promise.all(
        VMS.map((vm) => runJob(world.api, jobData('unplanned', TARGET, [`${vm}/boot`], { vm }))),
      );
      sampling = false;
      await sampler;

      expect(runs.map((r) => r.result.steps[0]?.outcome)).toEqual(VMS.map(() => 'done'));
      expect(maxBooting).toBe(2);
      const truth = world.truth();
      expect(truth.bootLimitRefusals).toBeGreaterThan(0);
      for (const vm of VMS) {
        const calls = mutations(world, vm, TARGET).startVM ?? 0;
        const refused = truth.refused[vm]?.[TARGET]?.HOST_BOOT_LIMIT ?? 0;
        expect(calls - refused, vm).toBe(1);
      }
    });
  });

  it('leaves a VM that is already starting alone', async () => {
    world = twoSiteWorld(['vm-1']);
    await failOverAll(world, ['vm-1']);
    await world.api.startVM({ site: TARGET, vm: 'vm-1', epoch: 1 });
    const run = await runJob(world.api, jobData('unplanned', TARGET, ['vm-1/boot'], { vm: 'vm-1' }));
    expect(run.result.alreadyDone).toBe(true);
    expect(mutations(world, 'vm-1', TARGET).startVM).toBe(1);
  });

  describe('when a duplicate run started the VM after this job last looked', () => {
    it('absorbs the refused start and reports the VM booting', async () => {
      world = twoSiteWorld(['vm-1']);
      await failOverAll(world, ['vm-1']);
      const stale = await world.api.getVM(TARGET, 'vm-1');
      await world.api.startVM({ site: TARGET, vm: 'vm-1', epoch: 1 });
      const outcome = await bootHandler({
        api: world.api,
        job: jobData('unplanned', TARGET, ['vm-1/boot'], { vm: 'vm-1' }),
        jobId: 'ex1.vm-1/boot',
        step: 'vm-1/boot',
        log: createLogger('test', { level: 'silent', pretty: false }),
        signal: new AbortController().signal,
        options: resolveHandlerOptions(),
        known: stale,
      });
      expect(outcome.outcome).toBe('done');
      expect(outcome.view?.state).toBe('Starting');
      const truth = world.truth();
      expect(truth.mutations['vm-1']?.[TARGET]?.startVM).toBe(2);
      expect(truth.refused['vm-1']?.[TARGET]).toEqual({ INVALID_STATE: 1 });
    });
  });

  describe('when the VM is barred from starting', () => {
    it('fails the step with START_BARRED, not retryable', async () => {
      world = twoSiteWorld(['vm-1']);
      await world.api.stopVM({ site: 'dc-east', vm: 'vm-1', epoch: 1 });
      await world.api.startVMFailover({ site: 'dc-east', vm: 'vm-1', epoch: 1, mode: 'prepare' });
      const run = await runJob(world.api, jobData('planned', 'dc-east', ['vm-1/boot'], { vm: 'vm-1' }));
      expect(run.result.steps[0]?.error).toMatchObject({ code: 'START_BARRED', retryable: false });
      expect(run.unrecoverable).toBeUndefined();
    });
  });
});

describe('readiness', () => {
  let world: World;
  afterEach(() => world?.close());
  const steps = ['vm-1/failover', 'vm-1/boot', 'vm-1/readiness'];

  it('passes heartbeat, TCP and HTTP checks and a delay', async () => {
    world = twoSiteWorld(['vm-1']);
    const readiness = {
      checks: [
        { kind: 'heartbeat' as const },
        { kind: 'tcp' as const, port: 1433 },
        { kind: 'http' as const, port: 80, path: '/health', expectStatus: 200 },
        { kind: 'delay' as const, ms: 10_000 },
      ],
      timeoutMs: 600_000,
      onTimeout: 'fail' as const,
    };
    await fenceSource(world.api, 'vm-1');
    const run = await runJob(world.api, jobData('unplanned', TARGET, steps, { vm: 'vm-1', readiness }));
    expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
    const output = run.result.steps[2]?.output as {
      checks: { kind: string; ok: boolean }[];
      waitedMs: number;
    };
    expect(output.checks.map((c) => [c.kind, c.ok])).toEqual([
      ['heartbeat', true],
      ['tcp', true],
      ['http', true],
      ['delay', true],
    ]);
    expect(output.waitedMs).toBeGreaterThanOrEqual(10_000);
  });

  describe('when the guest takes long to boot in a fast (scaled) world', () => {
    it('sees the service the moment the guest is up, not a poll interval later', async () => {
      // An 80 s boot is 0.8 s of real time; probes polled at growing intervals (from 10 ms here)
      // would look at about 0.79 s and next at 1.19 s (119 simulated s). The guest's heartbeat
      // wakes the check instead.
      world = twoSiteWorld(['vm-1'], { bootMs: 80_000, speed: 100 });
      const readiness = {
        checks: [{ kind: 'tcp' as const, port: 1433 }],
        timeoutMs: 600_000,
        onTimeout: 'fail' as const,
      };
      const data = jobData('unplanned', TARGET, steps, {
        vm: 'vm-1',
        readiness,
        recoveryPoint: { kind: 'latestProcessed' }, // nothing to apply: the boot takes exactly 80 s
      });
      await fenceSource(world.api, 'vm-1');
      const run = await runJob(world.api, data);
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'done']);
      const waited = Number(run.result.steps[2]?.output?.waitedMs);
      expect(waited).toBeGreaterThanOrEqual(75_000);
      expect(waited).toBeLessThan(100_000);
    });
  });

  describe('when the guest never answers', () => {
    it('fails the VM at the timeout', async () => {
      world = twoSiteWorld(['vm-1']);
      world.fault({ kind: 'boot', vm: 'vm-1', site: TARGET, mode: 'fail' });
      const sink = new MemorySink();
      const readiness = {
        checks: [{ kind: 'heartbeat' as const }],
        timeoutMs: 30_000,
        onTimeout: 'fail' as const,
      };
      await fenceSource(world.api, 'vm-1');
      const run = await runJob(world.api, jobData('unplanned', TARGET, steps, { vm: 'vm-1', readiness }), {
        sink,
      });
      expect(run.result.steps.map((s) => s.outcome)).toEqual(['done', 'done', 'failed']);
      expect(run.result.steps[2]?.error?.code).toBe('READINESS_TIMEOUT');
      expect(sink.events.flatMap((e) => (e.type === 'vm-phase' ? [e.phase] : [])).at(-1)).toBe('failed');
    });

    it('only warns when the plan says onTimeout: warn', async () => {
      world = twoSiteWorld(['vm-1']);
      world.fault({ kind: 'boot', vm: 'vm-1', site: TARGET, mode: 'fail' });
      const readiness = {
        checks: [{ kind: 'tcp' as const, port: 443 }],
        timeoutMs: 20_000,
        onTimeout: 'warn' as const,
      };
      await fenceSource(world.api, 'vm-1');
      const run = await runJob(world.api, jobData('unplanned', TARGET, steps, { vm: 'vm-1', readiness }));
      expect(run.result.steps[2]).toMatchObject({ outcome: 'warned', error: { code: 'READINESS_TIMEOUT' } });
    });
  });
});
