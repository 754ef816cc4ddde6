import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { acceptedCalls, expectFailedOverOnce, stepsStartedTwice } from '../engine/checks.ts';
import { actionFixtures, loadExample, waitForStatus } from '../engine/support.ts';
import { type AgentStack, startAgentStack } from './stack.ts';

const PLAN = 'plans/examples/three-tier.yaml';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Resolves once the simulator shows a failover at the target (a unit of the target is mid-way). */
async function untilFirstFailover(stack: AgentStack): Promise<void> {
  for (;;) {
    const truth = await stack.sim.truth();
    if (truth.failovers.some((f) => f.kind !== 'test')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('when a process of the cloud shape dies mid-execution', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  let baseline: Record<string, Record<string, number>>;

  const submit = (stack: AgentStack) =>
    stack.client.submit({ type: 'planned', plan, hash, reason: 'agent fault', approveManual: true });

  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample(PLAN, fixtures.webhookUrl));
    // The mutating calls of an uninterrupted planned failover through the agents.
    const stack = await startAgentStack(PLAN, { catalog: fixtures.catalog });
    try {
      const control = await stack.serve();
      await Promise.all([stack.agent(plan.source, control.url), stack.agent(plan.target, control.url)]);
      const { id } = await submit(stack);
      const view = await waitForStatus(stack.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('completed');
      baseline = acceptedCalls(await stack.sim.truth());
    } finally {
      await stack.close();
    }
  }, 120_000);
  afterAll(async () => {
    await fixtures?.close();
  });

  it('the target agent SIGKILLed mid-unit and restarted: its unit is handed again, no host call repeated', {
    timeout: 120_000,
  }, async () => {
    const stack = await startAgentStack(PLAN, { catalog: fixtures.catalog });
    try {
      const control = await stack.serve();
      await stack.agent(plan.source, control.url);
      const target = await stack.agent(plan.target, control.url);
      const { id } = await submit(stack);
      // Its running units' events reach the log while they run (progress): kill it mid-boot.
      const controller = new AbortController();
      for await (const { event } of stack.client.events(id, { follow: true, signal: controller.signal })) {
        if (event.type === 'vm-phase' && event.phase === 'booting' && event.site === plan.target) {
          await target.kill('SIGKILL');
          controller.abort();
        }
      }
      // The killed one's session is live for a few seconds more: its restart takes the site over.
      await stack.agent(plan.target, control.url, { replace: true });
      const view = await waitForStatus(stack.client, id, ['completed', 'failed'], 90_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = await stack.sim.truth();
      expectFailedOverOnce(plan, truth);
      expect(acceptedCalls(truth)).toEqual(baseline);
      // The killed unit really ran again (its steps started twice), and the state checks absorbed it.
      expect((await stepsStartedTwice(stack.redisUrl, stack.prefix, id)).length).toBeGreaterThan(0);
    } finally {
      await stack.close();
    }
  });

  it('the control plane SIGKILLed mid-execution: a second one takes over its jobs and the execution', {
    timeout: 120_000,
  }, async () => {
    const stack = await startAgentStack(PLAN, { catalog: fixtures.catalog });
    try {
      const port = await freePort();
      const first = await stack.serve(port);
      await Promise.all([stack.agent(plan.source, first.url), stack.agent(plan.target, first.url)]);
      const { id } = await submit(stack);
      await untilFirstFailover(stack);
      await first.process.kill('SIGKILL');
      // The agents keep their address: the new control plane comes up behind it.
      await stack.serve(port);
      const view = await waitForStatus(stack.client, id, ['completed', 'failed'], 90_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = await stack.sim.truth();
      expectFailedOverOnce(plan, truth);
      expect(acceptedCalls(truth)).toEqual(baseline);
    } finally {
      await stack.close();
    }
  });
});
