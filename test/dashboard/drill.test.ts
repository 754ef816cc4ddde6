/**
 * The dashboard following real drills of the three-tier example (a manual action in the drill, so
 * it waits for an approval) on a control plane in process with the sites' workers, in a real
 * headless Chromium signed in with tokens: an operator watches the drill live, approves the manual
 * action from the page and sees it to its end; a viewer sees the same drill with no buttons, and
 * the API refuses the viewer's approve made with the page's own session.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents } from '../../engine/executor/index.ts';
import type { ApiEngine } from '../control/support.ts';
import { waitForStatus } from '../engine/support.ts';
import { drillPlanFile, startApiEngine } from '../report/support.ts';
import { tokenFor } from '../support/auth.ts';
import { ARTIFACTS, ensureDashboardBuilt, HAS_CHROMIUM, launchBrowser, shot, signIn } from './support.ts';

describe.skipIf(!HAS_CHROMIUM)('the dashboard follows a live drill', { timeout: 240_000 }, () => {
  let api: ApiEngine;
  let plan: ReturnType<typeof drillPlanFile>;
  let browser: Browser;
  let operator: string;
  let viewer: string;
  beforeAll(async () => {
    ensureDashboardBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    plan = drillPlanFile('{ rto: 1h, rpo: 24h }');
    api = await startApiEngine(plan.file);
    operator = await tokenFor(api.control, 'operator', { owner: 'olivia@example.com' });
    viewer = await tokenFor(api.control, 'viewer', { owner: 'victor@example.com' });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    plan?.remove();
  });

  const submitDrill = async (reason: string): Promise<string> => {
    const { id } = await api.engine.client.submit({
      type: 'test',
      plan: api.plan,
      hash: api.hash,
      reason,
      by: 'drill-lead',
    });
    return id;
  };

  it('shows the drill live to its end, and an operator approves its manual action from the page', async () => {
    const id = await submitDrill('dashboard drill');
    const { page, errors, close } = await signIn(browser, api.control.url, operator);
    try {
      await page.goto(`${api.control.url}/#/executions/${encodeURIComponent(id)}`);
      await page.waitForSelector('[data-testid=timeline]');
      // The four VMs in the timeline, grouped by wave (wave headers are rows too).
      await page.waitForSelector('[data-testid=timeline]:not([data-rows="0"])');
      // The drill waits for the manual action: the page offers its approval.
      const approve = page.locator('button[data-action=approve]');
      await approve.waitFor({ timeout: 60_000 });
      await shot(page, 'drill-awaiting-approval');
      // The stream drops (the control plane cuts every connection) and the page resumes it from
      // the last event id it saw: it gets every event once (counted below).
      api.control.app.server.closeAllConnections();
      await page.waitForSelector('[data-testid=execution][data-stream=reconnecting]', { timeout: 15_000 });
      await page.waitForSelector('[data-testid=execution][data-stream=open]', { timeout: 30_000 });
      page.once('dialog', (dialog) => void dialog.accept('SAN checked from the dashboard'));
      await approve.click();
      // No reload: the same page follows the stream to the end.
      const marker = await page.evaluate('globalThis.stillThisPage = 42');
      await page.waitForSelector('[data-testid=execution][data-ended=yes][data-status=awaiting-cleanup]', {
        timeout: 120_000,
      });
      expect(await page.evaluate('globalThis.stillThisPage')).toBe(marker);
      expect(await page.textContent('[data-testid=ready-count]')).toBe('4');
      expect(await page.textContent('[data-testid=failed-count]')).toBe('0');
      await shot(page, 'drill-completed');
      // The approval was the operator's, with the reason typed on the page.
      const events = await readEvents(api.control.ctx.redis, api.control.ctx.prefix, id, {
        after: '0',
        count: 10_000,
      });
      // Every event of the run up to its end reached the page once, across the drop.
      const finished = events.findIndex((e) => e.event.type === 'execution-finished');
      expect(finished).toBeGreaterThan(0);
      const seen = Number(await page.getAttribute('[data-testid=execution]', 'data-events'));
      expect(seen).toBeGreaterThanOrEqual(finished + 1);
      expect(seen).toBeLessThanOrEqual(events.length);
      const approval = events.map((e) => e.event).find((e) => e.type === 'operator-action');
      expect(approval).toMatchObject({
        command: 'approve',
        by: 'olivia@example.com',
        reason: 'SAN checked from the dashboard',
      });
      // The operator cleans the drill up from the page too; the page sees it cleaned up.
      page.once('dialog', (dialog) => void dialog.accept('drill done'));
      await page.click('button[data-action=cleanup]');
      await page.waitForSelector('[data-testid=execution][data-status=cleaned-up]', { timeout: 120_000 });
      expect((await waitForStatus(api.engine.client, id, ['cleaned-up'], 30_000)).status).toBe('cleaned-up');
      await shot(page, 'drill-cleaned-up');
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('shows a viewer the same drill with no buttons, and the API refuses the viewer its approve', async () => {
    const id = await submitDrill('viewer drill');
    const { page, errors, allowRefusals, close } = await signIn(browser, api.control.url, viewer);
    try {
      await page.goto(`${api.control.url}/#/executions/${encodeURIComponent(id)}`);
      await page.waitForSelector('[data-testid=timeline]');
      // Wait until the drill waits for its approval (the operator's page would offer it now).
      await waitForApproval(api, id);
      await page.waitForSelector('[data-testid=timeline]:not([data-rows="0"])');
      await shot(page, 'drill-viewer');
      expect(await page.locator('[data-testid=controls]').count()).toBe(0);
      expect(await page.locator('button[data-action]').count()).toBe(0);
      // The viewer's session, its CSRF token and all: refused.
      allowRefusals.value = true;
      const refused = await page.evaluate(async (execution) => {
        const session = (await (await fetch('/api/v1/session')).json()) as { csrf: string };
        const response = await fetch(
          `/api/v1/executions/${encodeURIComponent(execution)}/steps/confirm-san/approve`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
            body: JSON.stringify({ reason: 'a viewer tries' }),
          },
        );
        return response.status;
      }, id);
      expect(refused).toBe(403);
      allowRefusals.value = false;
      const events = await readEvents(api.control.ctx.redis, api.control.ctx.prefix, id, {
        after: '0',
        count: 10_000,
      });
      expect(events.some((e) => e.event.type === 'operator-action')).toBe(false);
      // Let the drill finish (approved over the API) so the engine closes clean.
      await api.engine.client.approve(id, 'confirm-san', { by: 'drill-lead', comment: 'ok' });
      await page.waitForSelector('[data-testid=execution][data-ended=yes]', { timeout: 120_000 });
      expect(errors).toEqual([]);
      const cleanup = await api.engine.client.cleanup(id, { reason: 'done', by: 'drill-lead' });
      await waitForStatus(api.engine.client, cleanup.id, ['completed', 'failed'], 60_000);
    } finally {
      await close();
    }
  });

  it("shows a plan's drill history as a chart and a table, and a stored plan never run as none yet", async () => {
    const admin = await tokenFor(api.control, 'admin', { owner: 'ada@example.com' });
    const name = api.plan.metadata.name;
    const never = `${name}-never-run`;
    for (const text of [api.text, api.text.replace(`name: ${name}`, `name: ${never}`)]) {
      const upload = await fetch(`${api.control.url}/api/v1/plans`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ file: 'plan.yaml', text }),
      });
      expect(upload.status, await upload.text()).toBeLessThan(300);
    }
    const { page, errors, close } = await signIn(browser, api.control.url, viewer);
    try {
      await page.goto(`${api.control.url}/#/plans/${encodeURIComponent(name)}`);
      // The two drills of this file, newest first, each with its verdict; the chart beside them.
      await page.waitForSelector('[data-testid=drills] > table > tbody > tr');
      expect(await page.locator('[data-testid=drills] > table > tbody > tr').count()).toBe(2);
      await page.waitForSelector('[data-testid=drills] .chart canvas');
      expect(await page.locator('[data-testid=drills] > table > tbody .badge.pass').count()).toBeGreaterThan(
        0,
      );
      await shot(page, 'drill-history');
      // A stored plan never run: an empty history (the route's 200), not an error.
      await page.goto(`${api.control.url}/#/plans/${encodeURIComponent(never)}`);
      await page.waitForSelector('[data-testid=drills]:has-text("No drill of this plan yet.")');
      expect(await page.locator('[data-testid=drills] > table > tbody > tr').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});

async function waitForApproval(api: ApiEngine, id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${api.control.url}/api/v1/executions/${encodeURIComponent(id)}/waits`, {
      headers: api.auth,
    });
    const waits = (await response.json()) as { approvals: unknown[] };
    if (waits.approvals.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${id} never waited for an approval`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
