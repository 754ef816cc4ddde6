/**
 * Drills of the three-tier example on a control plane in process (test/control/support.ts): with a
 * manual action in the drill (so it has an approval) whose instruction, like the drill's reason
 * and the approver's comment, is hostile HTML, and the targets a test sets.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { waitForStatus } from '../engine/support.ts';

export const HOSTILE = `<script>alert("x")</script><img src=https://evil.example/x.png onerror=alert(1)> & 'quoted'`;

/** The example with the manual action also in drills and the given targets. */
export function drillPlanFile(targets: string): { file: string; remove(): void } {
  const text = readFileSync('plans/examples/three-tier.yaml', 'utf8')
    .replace(
      'manual: Confirm that SAN replication for the ERP LUNs is paused\n      on: [planned, unplanned]',
      `manual: ${JSON.stringify(`Confirm the drill window ${HOSTILE}`)}\n      on: [test, planned, unplanned]`,
    )
    .replace('targets: { rto: 15m, rpo: 5m }', `targets: ${targets}`);
  if (!text.includes('on: [test, planned, unplanned]') || !text.includes(`targets: ${targets}`))
    throw new Error('three-tier.yaml changed: the drill plan of the report tests no longer applies');
  const dir = mkdtempSync(join(tmpdir(), 'drorch-report-'));
  const file = join(dir, 'three-tier.yaml');
  writeFileSync(file, text);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * One drill to its end and its cleanup: the manual action approved by `approver` after
 * `approveAfterMs` of wall time (so the achieved RTO is at least that).
 */
export async function runDrill(
  api: ApiEngine,
  options: {
    approver: string;
    approveAfterMs: number;
    reason: string;
    cleanup?: boolean;
    plan?: RecoveryPlan;
  },
): Promise<string> {
  const client = api.engine.client;
  const { id } = await client.submit({
    type: 'test',
    plan: options.plan ?? api.plan,
    hash: api.hash,
    reason: options.reason,
    by: `<b>drill-lead</b>`,
  });
  const deadline = Date.now() + 60_000;
  await new Promise((r) => setTimeout(r, options.approveAfterMs));
  for (;;) {
    try {
      await client.approve(id, 'confirm-san', { by: options.approver, comment: `ok ${HOSTILE}` });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const view = await waitForStatus(client, id, ['awaiting-cleanup', 'failed'], 120_000);
  if (view.status !== 'awaiting-cleanup') throw new Error(`drill ${id} ended ${view.status}: ${view.error}`);
  if (options.cleanup !== false) {
    const cleanup = await client.cleanup(id, { reason: 'drill done', by: 'drill-lead' });
    await waitForStatus(client, cleanup.id, ['completed', 'failed'], 60_000);
    await waitForStatus(client, id, ['cleaned-up'], 30_000);
  }
  return id;
}

export { startApiEngine };
