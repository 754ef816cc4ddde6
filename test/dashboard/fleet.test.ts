/**
 * The dashboard at 10,000 VMs, in a real headless Chromium: the VMs page lists every VM of the
 * vault's inventory (a virtualised list: a few dozen rows in the DOM), scrolls to the last and
 * filters; the plan's page lays its 10,000-VM graph out in a Web Worker and draws it while the
 * page keeps answering. Figures (first render, long tasks) are bench/dashboard-10k.ts's.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type Fleet, startFleet } from './fleet.ts';
import { ensureDashboardBuilt, HAS_CHROMIUM, launchBrowser, shot, signIn } from './support.ts';

const VMS = 10_000;

describe.skipIf(!HAS_CHROMIUM)('the dashboard at 10,000 VMs', { timeout: 240_000 }, () => {
  let fleet: Fleet;
  let browser: Browser;
  beforeAll(async () => {
    ensureDashboardBuilt();
    fleet = await startFleet({ vms: VMS, redisUrl: testRedisUrl(), prefix: uniquePrefix('dash') });
    browser = await launchBrowser();
  }, 200_000);
  afterAll(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('lists every VM in a virtualised list, scrolls to the last and filters by health', async () => {
    const { page, errors, close } = await signIn(browser, fleet.control.url, fleet.viewer);
    try {
      await page.goto(`${fleet.control.url}/#/vms`);
      await page.waitForSelector(`[data-testid=vm-list][data-rows="${VMS}"]`, { timeout: 60_000 });
      expect(await page.textContent('[data-testid=vm-count]')).toBe(String(VMS));
      // Virtualised: the DOM holds the rows in view, not 10,000.
      const inDom = await page.locator('[data-testid=vm-list] button.vrow').count();
      expect(inDom).toBeGreaterThan(5);
      expect(inDom).toBeLessThan(200);
      const names = fleet.plan.vms.map((vm) => vm.name);
      await page.$eval('[data-testid=vm-list]', (el) => {
        el.scrollTop = el.scrollHeight;
      });
      // The inventory lists VMs by name: the last in that order is in the DOM after the scroll (the
      // list re-renders on the scroll's frame: wait for it rather than read the rows at once).
      const sorted = [...new Set(names)].sort();
      await page.waitForSelector(`[data-testid=vm-list] button.vrow[data-vm="${sorted.at(-1)}"]`, {
        timeout: 30_000,
      });
      await shot(page, 'fleet-vms');
      // Each health's count adds up to the fleet's (or fewer: VMs not replicated are none of them).
      const counts = await Promise.all(
        ['Normal', 'Warning', 'Critical'].map(async (h) =>
          Number(await page.textContent(`[data-testid=health-${h}]`)),
        ),
      );
      expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(VMS);
      await page.fill('input[placeholder^=filter]', sorted[0]!);
      await page.waitForSelector(`[data-testid=vm-list]:not([data-rows="${VMS}"])`);
      await page.click(`[data-testid=vm-list] button.vrow[data-vm="${sorted[0]}"]`);
      await page.waitForSelector('[data-testid=history] canvas');
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("lays the plan's 10,000-VM graph out in a worker and draws it, the critical path with its RTOs", async () => {
    const { page, errors, close } = await signIn(browser, fleet.control.url, fleet.viewer);
    try {
      await page.goto(`${fleet.control.url}/#/plans/${encodeURIComponent(fleet.plan.metadata.name)}`);
      await page.waitForSelector('[data-testid=estimated-rto]', { timeout: 60_000 });
      await page.locator('[data-testid=layout]', { hasText: 'laid out by' }).waitFor({ timeout: 120_000 });
      expect(await page.textContent('[data-testid=layout]')).toMatch(/nodes, \d+ edges, laid out by waves/);
      await shot(page, 'fleet-plan-graph');
      // The page answers after drawing it: the tab bar still works.
      await page.click('header nav a[href="#/executions"]');
      await page.waitForSelector('[data-testid=executions]');
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
