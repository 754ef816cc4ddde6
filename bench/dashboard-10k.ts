/**
 * The dashboard at 10,000 VMs, measured in a real headless Chromium (Debian's, playwright-core).
 *
 *   npx tsx bench/dashboard-10k.ts [vms=10000] [runs=5]
 *
 * First render: a control plane whose vault holds the inventory of a generated 10,000-VM fleet
 * (test/dashboard/fleet.ts: the agents' own reporter posting it, the plan stored), a signed-in
 * page opened on #/vms from a fresh navigation, RUNS times: navigation start to the list's first
 * paint (the page's `drorch:vms-rendered` mark, its first page of 2,000 VMs) and to the whole list
 * (`drorch:vms-complete`), and the longest main-thread task meanwhile.
 * Replay: a real planned failover of the generated plan (depth 10, boot time 0, no actions) on the
 * bench stack (bench/_engine-stack.ts: private Redis, the world, a `drctl worker` per site), driven
 * by a control plane in this process; its page opened as it starts (live) and again once it ended
 * (the whole event log replayed into the page at once); every main-thread task longer than 50 ms
 * (PerformanceObserver `longtask`) counted, the longest reported.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createLogger } from '../engine/common/index.ts';
import { controlRoutes, startControlPlane } from '../engine/control/index.ts';
import { readEvents } from '../engine/executor/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';
import { startFleet } from '../test/dashboard/fleet.ts';
import { tokenFor } from '../test/support/auth.ts';
import { median, orchestrationPlan, startStack, waitSettled } from './_engine-stack.ts';
import { longTaskReport, startTrace, stopTrace } from './_trace-long-tasks.ts';

const VMS = Number(process.argv[2] ?? 10_000);
const RUNS = Number(process.argv[3] ?? 5);
const CHROMIUM = '/usr/bin/chromium';
/** DASHBOARD_TRACE=1: a Chrome trace of each replay, its long tasks attributed (stderr). */
const TRACE = process.env.DASHBOARD_TRACE === '1';
/** DASHBOARD_ONLY=replay: the replay part alone. */
const ONLY = process.env.DASHBOARD_ONLY;
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
if (!existsSync('web/dist/index.html'))
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });

/** Long tasks from the page's start (installed before any script of the page runs). */
const OBSERVE_LONG_TASKS = `
  globalThis.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      globalThis.__longTasks.push(entry.duration);
      (globalThis.__longTaskStarts ??= []).push(Math.round(entry.startTime));
    }
  }).observe({ type: 'longtask', buffered: true });
`;

async function signedIn(browser: Browser, url: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript(OBSERVE_LONG_TASKS);
  const page = await context.newPage();
  await page.goto(url);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  return page;
}

/** Poll `expression` in the page (the dashboard's CSP refuses waitForFunction's eval). */
async function waitUntil(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const longTasks = async (page: Page): Promise<number[]> =>
  (await page.evaluate('globalThis.__longTasks')) as number[];

const fmt = (values: number[]): string =>
  values.length === 0
    ? '—'
    : `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const rows: string[][] = [];
try {
  // ---- first render of the VMs page -------------------------------------------------------------
  if (ONLY !== 'replay') await firstRender();
  async function firstRender(): Promise<void> {
    const redis = await startPrivateRedis();
    const fleet = await startFleet({ vms: VMS, redisUrl: redis.url, prefix: 'bench-dash' });
    try {
      const page = await signedIn(browser, fleet.control.url, fleet.admin);
      const renders: number[] = [];
      const completes: number[] = [];
      const longest: number[] = [];
      const mark = async (name: string): Promise<number> => {
        await waitUntil(page, `performance.getEntriesByName(${JSON.stringify(name)}).length > 0`, 60_000);
        return (await page.evaluate(
          `performance.getEntriesByName(${JSON.stringify(name)})[0].startTime`,
        )) as number;
      };
      for (let run = 0; run < RUNS; run++) {
        await page.goto('about:blank');
        await page.goto(`${fleet.control.url}/#/vms`);
        renders.push(await mark('drorch:vms-rendered'));
        completes.push(await mark('drorch:vms-complete'));
        await page.waitForSelector(`[data-testid=vm-list][data-rows="${VMS}"]`, { timeout: 60_000 });
        longest.push(Math.max(0, ...(await longTasks(page))));
      }
      rows.push([
        `VMs page, ${VMS} VMs of inventory: navigation to the list's first paint (first 2,000 rows)`,
        String(RUNS),
        fmt(renders),
        fmt(longest),
      ]);
      rows.push([`… to all ${VMS} VMs listed and counted`, String(RUNS), fmt(completes), '(same runs)']);
    } finally {
      await fleet.close();
      await redis.stop();
    }
  }

  // ---- a 10,000-VM failover's event log into the open page ---------------------------------------
  const { plan, hash } = orchestrationPlan(VMS);
  const stack = await startStack(plan, { boot: '0-0', speed: 1, orchestrator: false });
  const control = await startControlPlane({
    redisUrl: stack.redisUrl,
    prefix: stack.prefix,
    port: 0,
    routes: controlRoutes,
    inventory: stack.inventory,
    logger: createLogger('bench', { level: 'silent' }),
  });
  try {
    const token = await tokenFor(control, 'operator', { owner: 'bench' });
    const page = await signedIn(browser, control.url, token);
    await page.goto(`${control.url}/#/executions`);
    const { id } = await stack.client.submit({ type: 'planned', plan, hash, reason: 'bench', by: 'bench' });
    const started = performance.now();
    await page.goto(`${control.url}/#/executions/${encodeURIComponent(id)}`);
    await page.waitForSelector('[data-testid=execution][data-ended=yes]', { timeout: 900_000 });
    const view = await waitSettled(stack.client, id, 900_000);
    const ranS = (performance.now() - started) / 1000;
    const live = await longTasks(page);
    const events = (await readEvents(stack.redis, stack.prefix, id, { after: '0', count: 1_000_000 })).length;
    const ready = await page.textContent('[data-testid=ready-count]');
    process.stderr.write(
      `failover ${id}: ${view.status} in ${ranS.toFixed(1)} s, ${events} events, page says ${ready} ready\n`,
    );
    rows.push([
      `live: the page open while the ${VMS}-VM failover ran (${events} events, ${ranS.toFixed(0)} s)`,
      '1',
      `${live.length} tasks > 50 ms`,
      `${Math.max(0, ...live).toFixed(0)} ms`,
    ]);
    const replays: number[] = [];
    const counts: number[] = [];
    const took: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await page.goto('about:blank');
      const trace = TRACE ? await startTrace(page) : undefined;
      const t0 = performance.now();
      await page.goto(`${control.url}/#/executions/${encodeURIComponent(id)}`);
      await waitUntil(
        page,
        `document.querySelector('[data-testid=ready-count]')?.textContent === '${ready}'`,
        300_000,
      );
      await page.waitForSelector('[data-testid=execution][data-ended=yes]');
      took.push(performance.now() - t0);
      if (trace !== undefined)
        for (const line of longTaskReport(await stopTrace(trace)))
          process.stderr.write(`replay ${run}: ${line}\n`);
      const tasks = await longTasks(page);
      // Where the long tasks fall: against the page's load and the rows' arrival (execution-vms).
      const at = await page.evaluate(
        'JSON.stringify({ starts: globalThis.__longTaskStarts, loaded: Math.round(performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd), rows: performance.getEntriesByName("drorch:execution-vms").map((m) => Math.round(m.startTime)) })',
      );
      process.stderr.write(`replay ${run}: ${at} durations ${JSON.stringify(tasks.map(Math.round))}\n`);
      counts.push(tasks.length);
      replays.push(Math.max(0, ...tasks));
    }
    rows.push([
      `replay: the ended failover's whole log into a fresh page (${fmt(took)} to show it all)`,
      String(RUNS),
      `${median(counts)} tasks > 50 ms (median)`,
      fmt(replays),
    ]);
  } finally {
    await control.close(5000);
    await stack.close();
  }
} finally {
  await browser.close();
}

const header = ['measure', 'runs', 'result (median, min–max)', 'longest main-thread task'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
