/**
 * Undo actions as a cancel runs them (`action/<name>/undo` steps): the shipped catalog's DNS script
 * points the record back at the source site, and a manual undo waits for an operator's approval,
 * given by the action's name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveAction, decodeStepState, readAllEvents } from '../../engine/executor/index.ts';
import { submitCancel } from '../../engine/executor/store/lifecycle.ts';
import { actionFixtures, loadExample, waitForStatus } from '../engine/support.ts';
import { settled, startLifecycleEngine } from '../lifecycle/support.ts';

let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
let state: string;
const savedState = process.env.DR_STATE_DIR;
beforeAll(async () => {
  fixtures = await actionFixtures();
  state = mkdtempSync(join(tmpdir(), 'dr-undo-state-'));
  process.env.DR_STATE_DIR = state;
});
afterAll(async () => {
  await fixtures?.close();
  if (savedState === undefined) delete process.env.DR_STATE_DIR;
  else process.env.DR_STATE_DIR = savedState;
  rmSync(state, { recursive: true, force: true });
});

describe('undo actions in a cancel', { timeout: 120_000 }, () => {
  it('runs the catalog undo script (DNS back to the source) and waits for approval of a manual undo', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const san = plan.actions.find((a) => a.name === 'confirm-san');
    if (!san) throw new Error('three-tier has confirm-san');
    san.undo = { type: 'manual', instruction: 'Resume SAN replication for the ERP LUNs' };
    const engine = await startLifecycleEngine(plan, { catalog: 'scripts/catalog' });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'move',
        approveManual: true,
      });
      expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 90_000)).status).toBe(
        'completed',
      );
      const zone = join(state, 'dns', 'erp.example.com.zone');
      expect(readFileSync(zone, 'utf8')).toContain('www.dc-west.erp.example.com.');

      const cancel = await submitCancel(engine.redis, engine.prefix, id, {
        by: 'hank',
        reason: 'roll back',
        hosts: engine.world.api,
      });
      // The cancel reaches the manual undo and waits; approving by the action's name finds the undo step.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const steps = await engine.redis.hgetall(`${engine.prefix}:{exec:${cancel.id}}:steps`);
        const waiting = decodeStepState(steps['action/confirm-san/undo']);
        if (waiting.status === 'queued' && waiting.jobKey === 'action/confirm-san/undo') break;
        if (Date.now() > deadline)
          throw new Error(`confirm-san's undo never waited: ${JSON.stringify(steps)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const receipt = await approveAction(engine.redis, engine.prefix, cancel.id, 'confirm-san', 'hank', {
        comment: 'SAN replication resumed',
      });
      expect(receipt).toMatchObject({ step: 'action/confirm-san/undo', applied: true, accepted: true });
      const view = await settled(engine, cancel, 90_000);
      expect(view.status).toBe('completed');
      // The DNS undo ran from the catalog: the record points at the source again.
      expect(readFileSync(zone, 'utf8')).toBe(
        `www 60 IN CNAME www.dc-east.erp.example.com. ; ${cancel.id} cancel attempt 1\n`,
      );
      const events = (await readAllEvents(engine.redis, engine.prefix, cancel.id)).map((e) => e.event);
      const undo = events.find((e) => e.type === 'step-finished' && e.step === 'action/update-dns/undo');
      expect(undo?.type === 'step-finished' && String(undo.output?.stdout)).toContain(
        '-> www 60 IN CNAME www.dc-east',
      );
    } finally {
      await engine.close();
    }
  });
});
