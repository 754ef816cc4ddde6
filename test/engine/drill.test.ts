import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionFixtures, approveAsOperator, loadExample, startTestEngine, waitForStatus } from './support.ts';

const examples = readdirSync('plans/examples')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `plans/examples/${f}`);

describe.each(examples)('a drill of %s', (path) => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('brings every VM up as a test VM, never touches production, and cleanup removes every test VM', async () => {
    const { plan, hash } = await loadExample(path, fixtures.webhookUrl);
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      const submitted = await engine.client.submit({
        type: 'test',
        plan,
        hash,
        reason: 'quarterly drill',
        by: 'tester',
      });
      const operator = approveAsOperator(engine.client, submitted.id);
      const view = await waitForStatus(engine.client, submitted.id, ['awaiting-cleanup', 'failed'], 120_000);
      operator.stop();
      const manual = plan.actions.filter((a) => a.run.type === 'manual' && a.on.includes('test'));
      expect(operator.approved.sort()).toEqual(manual.map((a) => `action/${a.name}`).sort());
      expect(view.error).toBeUndefined();
      expect(view.status).toBe('awaiting-cleanup');
      expect(view.stepsDone).toBe(view.stepsTotal);
      expect(view.deadline).toBeDefined();
      const testVms = (await engine.world.api.listVMs(plan.target)).filter((vm) => vm.isTest);
      expect(testVms.length).toBe(plan.vms.length);
      for (const vm of testVms) expect(vm.state).toBe('Running');

      const cleanup = await engine.client.cleanup(submitted.id, { reason: 'drill done' });
      const cleaned = await waitForStatus(engine.client, cleanup.id, ['completed', 'failed'], 60_000);
      expect(cleaned.status).toBe('completed');
      expect((await engine.client.get(submitted.id)).status).toBe('cleaned-up');
      expect((await engine.world.api.listVMs(plan.target)).filter((vm) => vm.isTest)).toEqual([]);

      // Production was never touched: no mutating call on a primary, replication still running.
      const truth = engine.world.truth();
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites).toEqual([plan.source]);
        expect(truth.mutations[vm.name]?.[plan.source] ?? {}).toEqual({});
        const primary = await engine.world.api.getVM(plan.source, vm.name);
        expect(primary.state).toBe('Running');
        expect(primary.replication?.state).toBe('Replicating');
      }
      expect(truth.failovers.every((f) => f.kind === 'test')).toBe(true);
    } finally {
      await engine.close();
    }
  });
});
