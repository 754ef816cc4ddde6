/**
 * The script catalog (a folder configured for the engine, never the plan's folder): unknown
 * entries are located validation errors; the shipped example catalog (scripts/catalog) and the
 * tour's webhook receiver work offline end to end, with the execution in each script's environment
 * and its output in the event log.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogIssues } from '../../engine/executor/handlers/catalog.ts';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import { createPathLocator } from '../../engine/plan/index.ts';
import { loadExample, startTestEngine, waitForStatus } from '../engine/support.ts';
import { tracked } from '../support/children.ts';

function drctl(args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, ['bin/drctl.js', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe('catalog resolution at validation', () => {
  it('reports each script the catalog lacks at its place in the plan (file:line:col), exit 2', () => {
    // The shipped catalog without estate-200's load-balancer scripts.
    const catalog = mkdtempSync(join(tmpdir(), 'dr-partial-catalog-'));
    try {
      for (const entry of readdirSync('scripts/catalog').filter((name) => !name.startsWith('gslb-')))
        copyFileSync(join('scripts/catalog', entry), join(catalog, entry));
      const run = drctl(['validate', 'plans/examples/estate-200.yaml', '--script-catalog', catalog]);
      expect(run.status).toBe(2);
      expect(run.out).toContain(
        `plans/examples/estate-200.yaml:1057:15: error: action switch-gslb: script "gslb-switch" is not in the catalog ${catalog}`,
      );
      expect(run.out).toContain('plans/examples/estate-200.yaml:1061:23: error: action switch-gslb (undo)');
    } finally {
      rmSync(catalog, { recursive: true, force: true });
    }
  });

  it('passes every example with the shipped catalog; DR_SCRIPT_CATALOG is the default', () => {
    const run = drctl(
      [
        'validate',
        'plans/examples/three-tier.yaml',
        'plans/examples/sharepoint-farm.yaml',
        'plans/examples/estate-200.yaml',
      ],
      { DR_SCRIPT_CATALOG: 'scripts/catalog' },
    );
    expect(run.out).not.toContain('error');
    expect(run.status).toBe(0);
    // Offline, against a folder: it says which one (a run is checked against its workers' catalog).
    expect(run.out).toContain('scripts checked against the catalog scripts/catalog');
  });

  it('refuses a catalog that is not a folder, and names the flag', async () => {
    const { plan } = await loadExample('plans/examples/three-tier.yaml');
    const issues = await catalogIssues(plan, 'no/such/folder', 'three-tier.yaml');
    expect(issues).toMatchObject([{ code: 'SCRIPT_CATALOG_MISSING' }]);
    expect(issues[0]?.hint).toContain('--script-catalog');
  });

  it('refuses names that try to leave the catalog, located', async () => {
    const { plan } = await loadExample('plans/examples/three-tier.yaml');
    const action = plan.actions.find((a) => a.name === 'update-dns');
    if (action?.run.type !== 'script') throw new Error('three-tier has the update-dns script');
    action.run.script = '../../bin/drctl.js';
    const text = readFileSync('plans/examples/three-tier.yaml', 'utf8');
    const issues = await catalogIssues(plan, 'scripts/catalog', 'three-tier.yaml', createPathLocator(text));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      code: 'SCRIPT_NAME_INVALID',
      path: 'spec.actions[1].script',
      line: 48,
    });
  });
});

describe('the shipped catalog and the tour webhook receiver, offline', () => {
  let receiver: ChildProcess;
  let url: string;
  const posts: Record<string, unknown>[] = [];
  let state: string;
  const savedState = process.env.DR_STATE_DIR;

  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), 'dr-state-'));
    process.env.DR_STATE_DIR = state;
    receiver = tracked(
      spawn(process.execPath, ['scripts/webhook-receiver.mjs', '--port', '0'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const lines = createInterface({ input: receiver.stdout as NodeJS.ReadableStream });
    url = await new Promise<string>((resolve) => {
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.listening === 'string') resolve(`${parsed.listening}/dr/erp`);
        else posts.push(parsed);
      });
    });
  });
  afterAll(() => {
    receiver?.kill('SIGTERM');
    if (savedState === undefined) delete process.env.DR_STATE_DIR;
    else process.env.DR_STATE_DIR = savedState;
    rmSync(state, { recursive: true, force: true });
  });

  it('a planned failover of three-tier runs update-dns from the catalog and posts to the receiver', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', url);
    const engine = await startTestEngine(plan, { catalog: 'scripts/catalog' });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'tour, offline',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('completed');
      // The script's side effect: the record points at the target site, tagged with the execution.
      const zone = readFileSync(join(state, 'dns', 'erp.example.com.zone'), 'utf8');
      expect(zone).toBe(`www 60 IN CNAME www.dc-west.erp.example.com. ; ${id} planned attempt 1\n`);
      // Its output is in the event log, with the run's details.
      const redis = createQueueConnection(engine.redisUrl);
      const events = (await readAllEvents(redis, engine.prefix, id)).map((e) => e.event);
      await redis.quit();
      const dns = events.find((e) => e.type === 'step-finished' && e.step === 'action/update-dns');
      expect(dns).toMatchObject({
        outcome: 'done',
        site: 'dc-west',
        output: { script: 'update-dns', exitCode: 0, stderr: '', truncated: false },
      });
      expect(dns?.type === 'step-finished' && String(dns.output?.stdout)).toBe(
        `zone erp.example.com: (no www record) -> www 60 IN CNAME www.dc-west.erp.example.com. ; ${id} planned attempt 1\n`,
      );
      // Webhooks run on the control plane's side (the control queue's workers).
      expect(
        events.find((e) => e.type === 'step-finished' && e.step === 'action/notify-oncall'),
      ).toMatchObject({
        outcome: 'done',
        site: 'control',
      });
      // The webhook posted the execution context to the local receiver.
      for (let i = 0; i < 100 && posts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(posts).toHaveLength(1);
      expect(posts[0]).toMatchObject({
        method: 'POST',
        path: '/dr/erp',
        body: { execution: id, plan: 'erp', type: 'planned', action: 'notify-oncall', vms: ['web-01'] },
      });
      expect(String(posts[0]?.idempotencyKey)).toContain('action/notify-oncall');
    } finally {
      await engine.close();
    }
  });
  it('a group action gets its group’s VMs (DR_VMS) and runs on the target site (sharepoint-farm switch-vip)', async () => {
    const { plan, hash } = await loadExample('plans/examples/sharepoint-farm.yaml', url);
    const engine = await startTestEngine(plan, { catalog: 'scripts/catalog' });
    try {
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'vip',
        approveManual: true,
      });
      expect((await waitForStatus(engine.client, id, ['completed', 'failed'], 90_000)).status).toBe(
        'completed',
      );
      expect(readFileSync(join(state, 'lb', 'sharepoint-443'), 'utf8')).toBe('west\n');
      const redis = createQueueConnection(engine.redisUrl);
      const events = (await readAllEvents(redis, engine.prefix, id)).map((e) => e.event);
      await redis.quit();
      const vip = events.find((e) => e.type === 'step-finished' && e.step === 'action/switch-vip');
      expect(vip).toMatchObject({ outcome: 'done', site: plan.target });
      expect(vip?.type === 'step-finished' && vip.output?.stdout).toBe(
        `pool sharepoint-443: none -> west (${id}, VMs sp-wfe-01,sp-wfe-02,sp-wfe-03)\n`,
      );
    } finally {
      await engine.close();
    }
  });
});
