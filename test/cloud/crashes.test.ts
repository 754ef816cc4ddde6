/**
 * Issue 11: processes of `drctl up` SIGKILLed mid-execution and restarted by up itself. The
 * control plane comes back on the same port and takes its execution over; an agent comes back
 * and its site's steps resume. Either way the run completes with no host call repeated beyond
 * what the state checks absorb: the accepted mutating calls equal those of the same plan's twin
 * run without a fault, in the same world.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import { startDrctl } from '../cli/support.ts';
import { useTempDirs } from '../support/temp.ts';
import {
  type Cloud,
  callsOfPlan,
  expectFailedOverOnce,
  opsOfPlan,
  startCloud,
  TARGET,
  until,
} from './support.ts';

const temp = useTempDirs();

/** `drctl failover <plan> --planned --detach`: started, not awaited (the test strikes meanwhile). */
function startPlanned(cloud: Cloud, plan: string) {
  const run = startDrctl(['failover', cloud.planFile(plan), '--planned', '--detach', '--json'], {
    env: cloud.line.env,
  });
  return {
    id: async (): Promise<string> => {
      const done = await run.done;
      expect(done.code, done.stderr).toBe(0);
      return (JSON.parse(done.stdout) as { execution: string }).execution;
    },
  };
}

describe.skipIf(process.platform !== 'linux')(
  'when drctl up restarts a SIGKILLed process mid-execution',
  {
    timeout: 180_000,
  },
  () => {
    let cloud: Cloud;
    let baseline: ReturnType<typeof callsOfPlan>;
    beforeAll(async () => {
      // Boots of 1 to 2 s of wall time: room to strike between the first failover and the end.
      cloud = await startCloud(temp('cloud-crashes-'), { plans: ['a', 'b', 'c'], bootEstimate: '100s' });
      // The baseline: plan a's planned failover, uninterrupted, in the same world.
      const run = await cloud.cliJson<ExecutionView>(['failover', cloud.planFile('a'), '--planned']);
      expect(run.status).toBe('completed');
      baseline = callsOfPlan(await cloud.sim.truth(), 'a');
    }, 180_000);
    afterAll(async () => {
      await cloud?.close();
    });

    it('the control plane killed after the first failover: the restarted one completes the run, no host call repeated', async () => {
      const submitted = startPlanned(cloud, 'b');
      // The database has failed over and the application has not: the run is mid-way.
      const atKill = await until('b-db failed over', async () => {
        const truth = await cloud.sim.truth();
        return truth.failovers.some((f) => f.vm === 'b-db' && f.kind === 'planned') ? truth : undefined;
      });
      const control = cloud.pidOf('control');
      process.kill(control, 'SIGKILL');
      expect(atKill.failovers.filter((f) => f.vm === 'b-app')).toEqual([]);
      const id = await submitted.id();
      await cloud.waitForEvent((e) => e.event === 'restarted' && e.name === 'control');
      expect(cloud.pidOf('control')).not.toBe(control);

      const view = await cloud.waitForStatus(id, ['completed', 'failed']);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const status = await cloud.cliJson<ExecutionView>(['status', id]);
      expect(status.vms).toEqual({ 'b-db': 'ready', 'b-app': 'ready' });
      const truth = await cloud.truth();
      expectFailedOverOnce(truth, 'b', 'planned');
      expect(callsOfPlan(truth, 'b'), JSON.stringify(opsOfPlan(truth, 'b'))).toEqual(baseline);
    });

    it("the target's agent killed while a VM boots: the restarted agent is handed the step again, no host call repeated", async () => {
      const submitted = startPlanned(cloud, 'c');
      // c-db started at the target and its guest not heard from yet: the agent holds its boot step.
      await until('c-db booting at the target', async () => {
        const vm = (await cloud.sim.listVMs(TARGET)).find((v) => v.name === 'c-db' && !v.isTest);
        return vm !== undefined && vm.state !== 'Off' && vm.heartbeat === 'NoContact';
      });
      const agent = cloud.pidOf(`agent-${TARGET}`);
      process.kill(agent, 'SIGKILL');
      const id = await submitted.id();
      await cloud.waitForEvent((e) => e.event === 'restarted' && e.name === `agent-${TARGET}`);

      const view = await cloud.waitForStatus(id, ['completed', 'failed']);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = await cloud.truth();
      expectFailedOverOnce(truth, 'c', 'planned');
      expect(callsOfPlan(truth, 'c'), JSON.stringify(opsOfPlan(truth, 'c'))).toEqual(baseline);
      // The killed unit really ran again (the events of its first run may have died with the agent):
      // its failover found the VM failed over, its boot found it running: the state checks absorbed it.
      const redis = createQueueConnection(cloud.line.redis);
      const events = (await readAllEvents(redis, cloud.line.prefix, id)).map(({ event }) => event);
      await redis.quit();
      const outputs = (step: string) =>
        events.flatMap((e) => (e.type === 'step-finished' && e.step === step ? [e.output] : []));
      expect(outputs('c-db/failover')).toContainEqual(expect.objectContaining({ failedOver: false }));
      expect(outputs('c-db/boot')).toContainEqual(expect.objectContaining({ alreadyRunning: true }));
    });
  },
);
