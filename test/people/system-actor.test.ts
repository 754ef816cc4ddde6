/**
 * What the engine decides by itself is on record: a drill left past its deadline is cleaned up by
 * the control plane's orchestrator, and the audit log has it under the system actor, chained and
 * signed like every other entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { approveAsOperator, waitForStatus } from '../engine/support.ts';

describe('when the engine cleans up a drill past its deadline', { timeout: 180_000 }, () => {
  let api: ApiEngine;
  beforeAll(async () => {
    api = await startApiEngine();
  }, 60_000);
  afterAll(async () => {
    await api?.close();
  });

  it('writes the decision to the audit log under the system actor', async () => {
    const short = { ...api.plan, drill: { maxDurationMs: 2500 } };
    const { id } = await api.engine.client.submit({
      type: 'test',
      plan: short,
      hash: api.hash,
      reason: 'left running',
    });
    const operator = approveAsOperator(api.engine.client, id);
    await waitForStatus(api.engine.client, id, ['awaiting-cleanup', 'failed']);
    operator.stop();
    const drill = await waitForStatus(api.engine.client, id, ['cleaned-up'], 60_000);
    const answer = await fetch(`${api.control.url}/api/v1/audit?verify=true`, { headers: api.auth });
    const body = (await answer.json()) as {
      entries: Array<Record<string, unknown>>;
      verdict: { ok: boolean };
    };
    expect(body.verdict.ok).toBe(true);
    expect(body.entries.find((e) => e.actor === 'system')).toMatchObject({
      action: 'drill:cleanup',
      execution: drill.cleanup,
      plan: 'erp',
      outcome: 'accepted',
      detail: expect.stringContaining(`drill ${id} ran past its deadline`),
    });
  });
});
