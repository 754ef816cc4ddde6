import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionFixtures, loadExample, startTestEngine, type TestEngine, waitForStatus } from './support.ts';

describe('a drill of the three-tier example', () => {
  let engine: TestEngine;
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
    const { plan } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    engine = await startTestEngine(plan, { catalog: fixtures.catalog });
  });
  afterAll(async () => {
    await engine?.close();
    await fixtures?.close();
  });

  it('brings every VM up as a test VM and never touches production', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const submitted = await engine.client.submit({
      type: 'test',
      plan,
      hash,
      reason: 'quarterly drill',
      by: 'tester',
    });
    const view = await waitForStatus(engine.client, submitted.id, ['awaiting-cleanup', 'failed']);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('awaiting-cleanup');
    expect(view.stepsDone).toBe(view.stepsTotal);
    const truth = engine.world.truth();
    for (const vm of plan.vms) {
      expect(truth.vms[vm.name]?.primarySites).toEqual([plan.source]);
      expect(Object.keys(truth.mutations[vm.name]?.[plan.source] ?? {})).toEqual([]);
    }
    const cleanup = await engine.client.cleanup(submitted.id, { reason: 'drill done' });
    await waitForStatus(engine.client, cleanup.id, ['completed', 'failed']);
    const drill = await engine.client.get(submitted.id);
    expect(drill.status).toBe('cleaned-up');
    const west = await engine.world.api.listVMs(plan.target);
    expect(west.filter((vm) => vm.isTest)).toEqual([]);
  });
});
