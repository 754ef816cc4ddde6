import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { acceptedCalls, expectFailedOverOnce } from '../engine/checks.ts';
import { actionFixtures, loadExample, waitForStatus } from '../engine/support.ts';
import { type AgentStack, startAgentStack } from './stack.ts';

const PLAN = 'plans/examples/three-tier.yaml';

describe('steps through the site agents (drctl serve + one drctl agent per site)', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;

  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample(PLAN, fixtures.webhookUrl));
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  async function withStack(run: (stack: AgentStack, server: string) => Promise<void>): Promise<void> {
    const stack = await startAgentStack(PLAN, { catalog: fixtures.catalog });
    try {
      const control = await stack.serve();
      await Promise.all([stack.agent(plan.source, control.url), stack.agent(plan.target, control.url)]);
      await run(stack, control.url);
    } finally {
      await stack.close();
    }
  }

  it('runs a drill, every host call made by an agent', { timeout: 90_000 }, async () => {
    await withStack(async (stack) => {
      const { id } = await stack.client.submit({ type: 'test', plan, hash, reason: 'agent drill' });
      const view = await waitForStatus(stack.client, id, ['awaiting-cleanup', 'failed', 'completed'], 60_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('awaiting-cleanup');
      const truth = await stack.sim.truth();
      expect(truth.failovers.filter((f) => f.kind === 'test').length).toBe(plan.vms.length);
      expect(truth.splitBrain).toEqual([]);
    });
  });

  it('runs a planned failover with a script at the target site, through the API', {
    timeout: 90_000,
  }, async () => {
    await withStack(async (stack) => {
      const { id } = await stack.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'agent planned',
        approveManual: true,
      });
      const view = await waitForStatus(stack.client, id, ['completed', 'failed'], 60_000);
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('completed');
      const truth = await stack.sim.truth();
      expectFailedOverOnce(plan, truth);
      // Each VM: one planned shutdown path at the source, one failover path at the target.
      for (const vm of plan.vms)
        expect(Object.keys(acceptedCalls(truth)[vm.name] ?? {}).sort()).toEqual(
          [plan.source, plan.target].sort(),
        );
    });
  });
});
