/**
 * Notifications from a real execution: a drill through the control plane whose manual action waits
 * for approval and whose webhook action fails for good (its receiver answers 500) notifies a
 * subscribed receiver of each, once, signed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpExecutionClient, type HttpExecutionClient } from '../../engine/client/index.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { verifyDelivery } from '../../engine/control/notify/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import {
  actionFixtures,
  silent,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { type Receiver, startReceiver, until } from './notify-support.ts';

describe('notifications of an execution', { timeout: 180_000 }, () => {
  let engine: TestEngine;
  let control: ControlPlane;
  let token: string;
  let client: HttpExecutionClient;
  let receiver: Receiver;
  let actionHook: Receiver;
  let overdue: Receiver;
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let dir: string;
  let drill: { plan: RecoveryPlan; hash: string; source: { file: string; text: string } };

  beforeAll(async () => {
    fixtures = await actionFixtures();
    receiver = await startReceiver();
    actionHook = await startReceiver();
    overdue = await startReceiver();
    actionHook.answers.push(...Array.from({ length: 20 }, () => 500));
    // The example with its manual check and its webhook in drills.
    const text = readFileSync('plans/examples/three-tier.yaml', 'utf8')
      .replace(/webhook: \S+/g, `webhook: ${actionHook.url}`)
      .replace(
        'manual: Confirm that SAN replication for the ERP LUNs is paused\n      on: [planned, unplanned]',
        'manual: Confirm that SAN replication for the ERP LUNs is paused\n      on: [test]',
      )
      .replace('drill: { maxDuration: 8h }', 'drill: { maxDuration: 4s }')
      .replace(
        'onFailure: { retries: 5, then: pause }',
        'on: [test]\n      onFailure: { retries: 2, backoff: { initial: 100ms, max: 200ms }, then: continue-without-dependents }',
      );
    dir = mkdtempSync(join(tmpdir(), 'drorch-notify-'));
    const file = join(dir, 'plan.yaml');
    writeFileSync(file, text);
    const parsed = parsePlan(text, file);
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
    engine = await startTestEngine(parsed.plan, {
      catalog: fixtures.catalog,
      orchestrator: false,
      workerSites: [parsed.plan.source, parsed.plan.target],
    });
    control = await startControlPlane({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      port: 0,
      routes: controlRoutes,
      inventory: engine.world.api,
      scriptCatalog: fixtures.catalog,
      leaseMs: 2000,
      logger: silent,
      notifications: { retry: { initialDelayMs: 100, maxDelayMs: 500, giveUpAfterMs: 5_000 } },
    });
    token = await adminToken(control, 'tester');
    client = createHttpExecutionClient({ server: control.url, token });
    drill = { plan: parsed.plan, hash: parsed.hash, source: { file, text } };
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await control?.close(5000);
    await engine?.close();
    await fixtures?.close();
    await receiver?.close();
    await actionHook?.close();
    await overdue?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('notifies the manual action waiting, the step that failed and the drill past its maximum duration', async () => {
    const added = await fetch(`${control.url}/api/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify({ url: receiver.url, events: ['step.waiting-manual', 'step.failed'] }),
    });
    expect(added.status).toBe(201);
    const { secret } = (await added.json()) as { secret: string };
    const other = await fetch(`${control.url}/api/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify({ url: overdue.url, events: ['drill.overdue'] }),
    });
    expect(other.status).toBe(201);
    const submitted = await client.submit({
      type: 'test',
      ...drill,
      reason: 'drill with notifications',
      by: 'tester',
    });
    const [waiting] = await receiver.waitFor(1, 60_000);
    const first = JSON.parse(waiting?.body ?? '{}');
    expect(first).toMatchObject({
      type: 'step.waiting-manual',
      subject: { plan: 'erp', execution: submitted.id, step: 'action/confirm-san' },
    });
    expect(first.summary).toContain('Confirm that SAN replication');
    expect(
      verifyDelivery(secret, waiting?.body ?? '', {
        signature: waiting?.headers['x-dr-signature'] as string,
        timestamp: waiting?.headers['x-dr-timestamp'] as string,
      }),
    ).toEqual({ ok: true });
    await client.approve(submitted.id, 'confirm-san', { comment: 'checked' });
    const got = await receiver.waitFor(2, 90_000);
    const failed = JSON.parse(got[1]?.body ?? '{}');
    expect(failed).toMatchObject({
      type: 'step.failed',
      subject: { plan: 'erp', execution: submitted.id, step: 'action/notify-oncall' },
      details: { policy: expect.any(String), error: { code: expect.any(String) } },
    });
    // Told once, after its last attempt (its own retries: 2), not once per failed attempt.
    expect(failed.details.attempt).toBe(3);
    expect(actionHook.received.length).toBe(failed.details.attempt);
    await waitForStatus(
      client,
      submitted.id,
      ['awaiting-cleanup', 'failed', 'cleaning-up', 'cleaned-up'],
      90_000,
    );
    // Its 4 s maximum passed while it waited: told once, and the engine cleans it up.
    const [late] = await overdue.waitFor(1, 30_000);
    expect(JSON.parse(late?.body ?? '{}')).toMatchObject({
      type: 'drill.overdue',
      subject: { plan: 'erp', execution: submitted.id },
    });
    await waitForStatus(client, submitted.id, ['cleaned-up'], 60_000);
    expect(overdue.received).toHaveLength(1);
    // Each occurrence once: nothing more arrives.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual([
      'step.waiting-manual',
      'step.failed',
    ]);
    await until(async () => {
      const list = (await (
        await fetch(`${control.url}/api/v1/notifications`, { headers: bearer(token) })
      ).json()) as {
        subscriptions: { status: { delivered: number } }[];
      };
      return list.subscriptions[0]?.status.delivered === 2;
    });
  });
});
