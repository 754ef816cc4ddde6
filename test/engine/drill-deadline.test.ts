import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { actionFixtures, approveAsOperator, loadExample, startTestEngine, waitForStatus } from './support.ts';

describe('when a drill runs past its deadline', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let plan: RecoveryPlan;
  let hash: string;
  beforeAll(async () => {
    fixtures = await actionFixtures();
    ({ plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl));
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('is cleaned up by the engine, even across an orchestrator restart', async () => {
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const short = { ...plan, drill: { maxDurationMs: 2500 } };
      const { id } = await engine.client.submit({ type: 'test', plan: short, hash, reason: 'left running' });
      const operator = approveAsOperator(engine.client, id);
      await waitForStatus(engine.client, id, ['awaiting-cleanup', 'failed']);
      operator.stop();
      // The orchestrator that knew about the drill goes away; a new one finds the deadline in Redis.
      await engine.orchestrator?.close();
      expect((await engine.world.api.listVMs(plan.target)).filter((vm) => vm.isTest).length).toBe(
        plan.vms.length,
      );
      await engine.startOrchestrator();
      const drill = await waitForStatus(engine.client, id, ['cleaned-up'], 30_000);
      expect(drill.cleanup).toBe(`${id}-cleanup`);
      const cleanup = await engine.client.get(drill.cleanup ?? '');
      expect(cleanup.by).toBe('engine');
      expect(cleanup.reason).toMatch(/deadline/);
      expect((await engine.world.api.listVMs(plan.target)).filter((vm) => vm.isTest)).toEqual([]);
      const notes: string[] = [];
      for await (const { event } of engine.client.events(id)) {
        if (event.type === 'execution-status')
          notes.push(`${event.status}${event.detail ? `: ${event.detail}` : ''}`);
      }
      expect(notes).toContain('cleaning-up: drill deadline passed: cleaned up by the engine');
      expect(notes.at(-1)).toMatch(/^cleaned-up/);
    } finally {
      await engine.close();
    }
  });
});
