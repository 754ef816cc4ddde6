/**
 * `drctl report` and the report API against real drills of the three-tier example (test Redis, the
 * simulated world, the control plane, the sites' workers): a drill judged against the plan's
 * targets (one that meets them, one that misses its RTO), the approval and who gave it, hostile
 * text escaped, nothing fetched, the hash recorded and checked, the drill history, retention.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueConnection, executionKeys, globalKeys } from '../../engine/executor/index.ts';
import {
  drillHistorySchema,
  type ExecutionReport,
  executionReportSchema,
  REPORT_RETENTION_MS,
  sha256,
} from '../../engine/report/index.ts';
import { drctl } from '../cli/support.ts';
import type { ApiEngine } from '../control/support.ts';
import { useTempDirs } from '../support/temp.ts';
import { drillPlanFile, HOSTILE, runDrill, startApiEngine } from './support.ts';

/**
 * Nothing fetched: no element (escaped text is no element) has a src, href or action, and no CSS
 * loads anything (url(), @import); no script, link, iframe or object element at all.
 */
function expectSelfContained(html: string): void {
  const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
  expect(tags.length).toBeGreaterThan(10);
  for (const tag of tags) {
    expect(tag).not.toMatch(/\s(src|href|xlink:href|action|srcset)\s*=/i);
    expect(tag).not.toMatch(/^<(script|link|iframe|object|embed)\b/i);
  }
  expect(html).not.toMatch(/url\(|@import/i);
}

/** Debian's chromium, which playwright-core drives (`.ci/run` installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
/** Screenshots and PDFs of the browser tests (gitignored). */
const ARTIFACTS = resolve('artifacts/report');

describe('the report of a drill', { timeout: 300_000 }, () => {
  const temp = useTempDirs();
  let api: ApiEngine;
  let plan: ReturnType<typeof drillPlanFile>;
  let passed: string;
  let missed: string;
  let dir: string;
  beforeAll(async () => {
    plan = drillPlanFile('{ rto: 1h, rpo: 24h }');
    api = await startApiEngine(plan.file);
    passed = await runDrill(api, {
      approver: 'alice@example.com',
      approveAfterMs: 0,
      reason: `quarterly ${HOSTILE}`,
    });
    // The same plan with a 1 s RTO target, approved after 1.5 s: it cannot be met.
    missed = await runDrill(api, {
      approver: 'bob',
      approveAfterMs: 1500,
      reason: 'tight target',
      plan: { ...api.plan, targets: { rtoMs: 1000, rpoMs: 24 * 3_600_000 } },
    });
    dir = temp('drorch-report-test-');
  }, 280_000);
  afterAll(async () => {
    await api?.close();
    plan?.remove();
  });

  const run = (args: string[]) =>
    drctl([...args, '--prefix', api.engine.prefix], { env: { REDIS_URL: api.engine.redisUrl } });

  const jsonReport = async (id: string): Promise<ExecutionReport> => {
    const result = await run(['report', id, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const parsed = executionReportSchema.safeParse(JSON.parse(result.stdout));
    expect(parsed.success, parsed.error?.message).toBe(true);
    return parsed.data as ExecutionReport;
  };

  it('passes a drill that met its targets, per VM and as a whole, with each VM recovery point', async () => {
    const report = await jsonReport(passed);
    expect(report.scope.plan).toBe('erp');
    expect(report.scope.hash).toBe(api.hash);
    expect(report.scope.vms).toEqual(['sql-01', 'app-01', 'app-02', 'web-01']);
    expect(report.objectives.rto).toMatchObject({ targetMs: 3_600_000, verdict: 'pass' });
    expect(report.objectives.rpo).toMatchObject({ targetMs: 86_400_000, verdict: 'pass' });
    expect(report.objectives.verdict).toBe('pass');
    // The achieved RTO is the one the engine recorded (drctl status prints it).
    const status = JSON.parse((await run(['status', passed, '--json'])).stdout);
    expect(report.objectives.rto.achievedMs).toBe(status.rtoMs);
    for (const vm of report.vms) {
      expect(vm.recoveryPoint?.time, vm.vm).toMatch(/^\d{4}-/);
      expect(vm.rto.verdict, vm.vm).toBe('pass');
      expect(vm.rto.achievedMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(status.rtoMs);
      expect(vm.dataLoss?.windowMs, vm.vm).toBeGreaterThanOrEqual(0);
      expect(vm.rpo.verdict, vm.vm).toBe('pass');
    }
    // The widest window is the RPO achieved.
    expect(report.objectives.rpo.achievedMs).toBe(
      Math.max(...report.vms.map((vm) => vm.dataLoss?.windowMs ?? 0)),
    );
  });

  it('fails a drill that missed its RTO target, and says which VMs missed it', async () => {
    const report = await jsonReport(missed);
    expect(report.objectives.rto.targetMs).toBe(1000);
    expect(report.objectives.rto.achievedMs).toBeGreaterThan(1500);
    expect(report.objectives.rto.verdict).toBe('fail');
    expect(report.objectives.verdict).toBe('fail');
    // Every VM waited for the approval before sql-01: each missed the target.
    for (const vm of report.vms) expect(vm.rto.verdict, vm.vm).toBe('fail');
  });

  it('shows the approval, who gave it and when, and the cleanup that removed every test VM', async () => {
    const report = await jsonReport(passed);
    expect(report.approvals).toEqual([
      expect.objectContaining({
        step: 'action/confirm-san',
        by: 'alice@example.com',
        comment: `ok ${HOSTILE}`,
        accepted: true,
      }),
    ]);
    expect(report.actions.map((a) => `${a.action} ${a.kind} ${a.outcome}`)).toContain(
      'confirm-san manual done',
    );
    expect(report.execution).toMatchObject({
      by: '<b>drill-lead</b>',
      reason: `quarterly ${HOSTILE}`,
      status: 'cleaned-up',
    });
    expect(report.cleanup?.complete).toBe(true);
    expect(report.cleanup?.missing).toEqual([]);
    expect(report.cleanup?.vms.map((v) => `${v.vm} ${v.outcome} ${v.removed}`).sort()).toEqual([
      'app-01 done true',
      'app-02 done true',
      'sql-01 done true',
      'web-01 done true',
    ]);
    // The cleanup's events are in the timeline, after the drill's.
    expect(
      report.timeline.some((t) => t.execution === report.cleanup?.execution && /cleaned-up/.test(t.text)),
    ).toBe(true);
  });

  it('writes one self-contained HTML file with hostile text escaped, and prints its recorded hash', async () => {
    const file = join(dir, 'report.html');
    const result = await run(['report', passed, '-o', file]);
    expect(result.code, result.stderr).toBe(0);
    const html = readFileSync(file, 'utf8');
    const printed = /sha256 ([0-9a-f]{64})/.exec(result.stdout)?.[1];
    expect(printed).toBe(sha256(readFileSync(file)));
    // Hostile text is text: no element of it survives, its escaped form is there.
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>drill-lead');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;drill-lead&lt;/b&gt;');
    // Nothing fetched: no src/href/url() pointing anywhere, no link or script elements.
    expectSelfContained(html);
    expect(html).toMatch(/@media print/);
    expect(html).toContain('alice@example.com');
    expect(html).toMatch(/class="v v-pass">pass</);
    // Recorded under the execution.
    const redis = createQueueConnection(api.engine.redisUrl);
    try {
      expect(await redis.hexists(executionKeys(api.engine.prefix, passed).reports, printed ?? '')).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('--verify: the file as written matches; a copy changed by one character does not (exit 1)', async () => {
    const file = join(dir, 'verify.html');
    expect((await run(['report', passed, '-o', file])).code).toBe(0);
    const ok = await run(['report', '--verify', file]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/matches the html report of drill-/);
    const changed = join(dir, 'changed.html');
    writeFileSync(changed, readFileSync(file, 'utf8').replace('alice@example.com', 'alice@example.con'));
    const bad = await run(['report', '--verify', changed]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/does NOT match any report recorded for drill-/);
    // A JSON report verifies as well.
    const json = join(dir, 'report.json');
    expect((await run(['report', passed, '--json', '-o', json])).code).toBe(0);
    expect((await run(['report', '--verify', json])).code).toBe(0);
  });

  it('refuses what is no report, an unknown execution and a mixed request (exit 2, one line)', async () => {
    const notReport = join(dir, 'not-a-report.html');
    writeFileSync(notReport, '<html><body>hello</body></html>');
    const bad = await run(['report', '--verify', notReport]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a report \(it names no execution\)/);
    const missing = await run(['report', 'drill-nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no execution "drill-nope"/);
    const mixed = await run(['report', passed, '--plan', 'erp']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/give one of/);
    const noPlan = await run(['report', '--plan', 'nope']);
    expect(noPlan.code).toBe(2);
    expect(noPlan.stderr).toMatch(/no plan named 'nope' in this vault/);
    for (const r of [bad, missing, mixed, noPlan]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('drill history: both drills, oldest first, as a table, JSON and an HTML chart', async () => {
    const json = await run(['report', '--plan', 'erp', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const history = drillHistorySchema.parse(JSON.parse(json.stdout));
    expect(history.drills.map((d) => [d.execution, d.verdict])).toEqual([
      [passed, 'pass'],
      [missed, 'fail'],
    ]);
    const table = await run(['report', '--plan', 'erp']);
    expect(table.stdout).toMatch(/^DRILL\s+SUBMITTED\s+STATUS\s+VMS\s+RTO/m);
    expect(table.stdout).toContain(passed);
    const file = join(dir, 'history.html');
    expect((await run(['report', '--plan', 'erp', '-o', file])).code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<svg [^>]*role="img"/);
    expect(html.match(/<circle /g)?.length).toBe(4); // two drills, two panels
    expectSelfContained(html);
  });

  it('the API: HTML by Accept or ?format, JSON by default, the hash header recorded, in /openapi.json', async () => {
    const base = `${api.control.url}/api/v1/executions/${passed}`;
    const html = await fetch(`${base}/report`, { headers: { accept: 'text/html', ...api.auth } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await html.text();
    expect(html.headers.get('x-report-sha256')).toBe(sha256(body));
    const verified = await (await fetch(`${base}/reports/${sha256(body)}`, { headers: api.auth })).json();
    expect(verified).toMatchObject({ matches: true, recorded: { format: 'html' } });
    const other = (await (
      await fetch(`${base}/reports/${sha256(`${body} `)}`, { headers: api.auth })
    ).json()) as {
      matches: boolean;
    };
    expect(other.matches).toBe(false);
    const json = await fetch(`${base}/report?format=json`, { headers: api.auth });
    expect(executionReportSchema.safeParse(JSON.parse(await json.text())).success).toBe(true);
    const missing = await fetch(`${api.control.url}/api/v1/executions/nope/report`, { headers: api.auth });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/problem\+json/);
    const doc = (await (await fetch(`${api.control.url}/openapi.json`)).json()) as {
      components: { schemas: Record<string, unknown> };
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['ExecutionReport', 'DrillHistory']),
    );
    expect(doc.paths['/api/v1/executions/{id}/report']).toBeDefined();
    // Through the control plane, the CLI writes the same report (and the server records it).
    const file = join(dir, 'server.html');
    const viaServer = await drctl(['report', passed, '-o', file], {
      env: { DR_SERVER: api.control.url, DR_TOKEN: api.token },
    });
    expect(viaServer.code, viaServer.stderr).toBe(0);
    const again = await drctl(['report', '--verify', file], {
      env: { DR_SERVER: api.control.url, DR_TOKEN: api.token },
    });
    expect(again.code, again.stderr).toBe(0);
  });

  it('keeps what reports read with no expiry (at least 13 months): record, plan, event log, hashes', async () => {
    const redis = createQueueConnection(api.engine.redisUrl);
    try {
      for (const id of [passed, missed]) {
        const keys = executionKeys(api.engine.prefix, id);
        for (const key of [keys.meta, keys.plan, keys.events, keys.reports]) {
          const ttl = await redis.pttl(key);
          // -1: no expiry; -2 would be a missing key. Anything else must outlast 13 months.
          expect(ttl === -1 || ttl >= REPORT_RETENTION_MS, `${key} ttl ${ttl}`).toBe(true);
        }
      }
      expect(await redis.pttl(globalKeys(api.engine.prefix).executions)).toBe(-1);
    } finally {
      redis.disconnect();
    }
  });

  it.skipIf(!HAS_CHROMIUM)(
    HAS_CHROMIUM
      ? 'renders in headless Chromium offline (no request leaves the file) and prints to PDF'
      : `renders in headless Chromium and prints: SKIPPED, ${CHROMIUM} is missing (apt-get install -y chromium)`,
    async () => {
      const file = join(dir, 'browser.html');
      expect((await run(['report', passed, '-o', file])).code).toBe(0);
      mkdirSync(ARTIFACTS, { recursive: true });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const context = await browser.newContext({ offline: true, javaScriptEnabled: false });
        const requests: string[] = [];
        await context.route('**/*', async (route) => {
          const url = route.request().url();
          if (url.startsWith('file:')) return await route.continue();
          requests.push(url);
          return await route.abort();
        });
        const page = await context.newPage();
        await page.goto(`file://${file}`);
        expect(await page.title()).toContain('Recovery exercise report: erp');
        expect(requests).toEqual([]);
        // What a reader sees: the verdict, the approver, every VM's row, escaped text as text.
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (CSS upper-cases the verdict) is what a reader sees
        await expect(page.locator('.banner').innerText()).resolves.toMatch(/PASS/);
        await expect(page.getByText('alice@example.com').count()).resolves.toBeGreaterThan(0);
        await expect(page.locator('td', { hasText: /^web-01$/ }).count()).resolves.toBeGreaterThan(0);
        await expect(page.locator('img, script').count()).resolves.toBe(0);
        await expect(
          page.getByText('<script>alert("x")</script>', { exact: false }).count(),
        ).resolves.toBeGreaterThan(0);
        await page.screenshot({ path: join(ARTIFACTS, 'drill-report.png'), fullPage: true });
        await page.emulateMedia({ media: 'print' });
        const pdf = join(ARTIFACTS, 'drill-report.pdf');
        await page.pdf({ path: pdf, format: 'A4', printBackground: true });
        const bytes = readFileSync(pdf);
        expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
        expect(statSync(pdf).size).toBeGreaterThan(20_000);
        expect(requests).toEqual([]);
        // The drill history's chart renders as well.
        const history = join(dir, 'history-browser.html');
        expect((await run(['report', '--plan', 'erp', '-o', history])).code).toBe(0);
        await page.emulateMedia({ media: 'screen' });
        await page.goto(`file://${history}`);
        const box = await page.locator('svg').boundingBox();
        expect(box?.width ?? 0).toBeGreaterThan(300);
        await page.screenshot({ path: join(ARTIFACTS, 'drill-history.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    },
  );
});
