/**
 * Issue 11: the target agent's link to the control plane cut mid-step and restored. The agent
 * runs through a TCP proxy the test controls (up's own agent for the site stopped first); the
 * link is cut while the agent waits on a VM's boot, for longer than a session lives (5 s), then
 * restored. The run completes with nothing lost (every step done, every VM ready) and no host
 * call repeated: the accepted calls equal those of the twin plan's run over an intact link.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import { startDrctl } from '../cli/support.ts';
import { useTempDirs } from '../support/temp.ts';
import { type CutMode, startProxy, type TcpProxy } from './proxy.ts';
import {
  type Cloud,
  callsOfPlan,
  expectFailedOverOnce,
  type OwnAgent,
  opsOfPlan,
  startCloud,
  startOwnAgent,
  TARGET,
  until,
} from './support.ts';

const temp = useTempDirs();

interface SiteView {
  site: string;
  live: boolean;
  heartbeatAgeMs?: number;
}

describe.skipIf(process.platform !== 'linux')(
  "when the target agent's link to the control plane is cut mid-step",
  {
    timeout: 180_000,
  },
  () => {
    let cloud: Cloud;
    let proxy: TcpProxy;
    let agent: OwnAgent;
    let baseline: ReturnType<typeof callsOfPlan>;
    beforeAll(async () => {
      cloud = await startCloud(temp('cloud-link-'), {
        plans: ['a', 'b', 'c'],
        restart: false,
        bootEstimate: '100s',
      });
      proxy = await startProxy(cloud.line.api);
      // up's agent of the target goes (--no-restart: it stays down); ours, through the proxy, takes over.
      process.kill(cloud.pidOf(`agent-${TARGET}`), 'SIGTERM');
      await cloud.waitForEvent((e) => e.event === 'exited' && e.name === `agent-${TARGET}`);
      agent = startOwnAgent(cloud, TARGET, proxy.url, join(cloud.line.logs, `own-agent-${TARGET}.log`));
      await agent.ready;
      const run = await cloud.cliJson<ExecutionView>(['failover', cloud.planFile('a'), '--planned']);
      expect(run.status).toBe('completed');
      baseline = callsOfPlan(await cloud.sim.truth(), 'a');
    }, 180_000);
    afterAll(async () => {
      await agent?.kill();
      await proxy?.close();
      await cloud?.close();
    });

    const target = async (): Promise<SiteView | undefined> =>
      (await cloud.get<{ sites: SiteView[] }>('/api/v1/sites')).sites.find((s) => s.site === TARGET);

    async function cutMidBoot(plan: string, mode: CutMode): Promise<void> {
      const db = `${plan}-db`;
      await cloud.sim.fault({ kind: 'boot', vm: db, site: TARGET, mode: 'slow', factor: 5 });
      const submit = startDrctl(['failover', cloud.planFile(plan), '--planned', '--detach', '--json'], {
        env: cloud.line.env,
      });
      await until(`${db} booting at the target`, async () => {
        const vm = (await cloud.sim.listVMs(TARGET)).find((v) => v.name === db && !v.isTest);
        return vm !== undefined && vm.state !== 'Off' && vm.heartbeat === 'NoContact';
      });
      proxy.cut(mode);
      // The control plane hears nothing from the agent: its session expires (5 s without a beat).
      await until('the target agent no longer live', async () => (await target())?.live === false, 30_000);
      proxy.restore();
      const submitted = await submit.done;
      expect(submitted.code, submitted.stderr).toBe(0);
      const id = (JSON.parse(submitted.stdout) as { execution: string }).execution;

      const view = await cloud.waitForStatus(id, ['completed', 'failed']);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      expect(view.stepsDone).toBe(view.stepsTotal);
      const status = await cloud.cliJson<ExecutionView>(['status', id]);
      expect(status.vms).toEqual({ [db]: 'ready', [`${plan}-app`]: 'ready' });
      expect((await target())?.live).toBe(true);
      const truth = await cloud.truth();
      expectFailedOverOnce(truth, plan, 'planned');
      expect(callsOfPlan(truth, plan), JSON.stringify(opsOfPlan(truth, plan))).toEqual(baseline);
    }

    it('reset (connections closed, new ones refused): the run completes once the link is back, no host call repeated', async () => {
      const before = proxy.refused();
      await cutMidBoot('b', 'reset');
      // The agent did try to reach the control plane through the cut.
      expect(proxy.refused() - before).toBeGreaterThan(0);
    });

    it('stall (bytes held, then delivered): the run completes once the link is back, no host call repeated', async () => {
      await cutMidBoot('c', 'stall');
    });
  },
);
