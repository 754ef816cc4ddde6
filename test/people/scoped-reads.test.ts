/**
 * Least privilege on reads (issue 12): every GET route of the OpenAPI document, called with a
 * token scoped to one plan and with one scoped to one site, answers nothing of another plan or of
 * a plan outside the site: not its name, not its executions. Two plans share the simulated world
 * (the three-tier example split in two: `erp` with sql-01, `crm-books` with web-01), each with a
 * drill awaiting its cleanup (so each holds its locks). Streams are read up to their first full
 * state (`synced`) or for a short while.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpExecutionClient } from '../../engine/client/index.ts';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { waitForStatus } from '../engine/support.ts';
import { bearer, tokenFor } from '../support/auth.ts';
import { splitParsed } from '../support/split-plan.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;

const OWN = 'erp';
const OTHER = 'crm-books';

interface Answer {
  status: number;
  text: string;
}

describe('a scoped token reads only its plans and sites, on every GET route', { timeout: 300_000 }, () => {
  let api: ApiEngine;
  const plans: Record<string, { hash: string; execution: string }> = {};
  let paths: string[] = [];

  const get = async (token: string, path: string): Promise<Answer> => {
    const controller = new AbortController();
    const response = await fetch(`${api.control.url}${path}`, {
      headers: bearer(token),
      signal: controller.signal,
    });
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      return { status: response.status, text: await response.text() };
    }
    // A stream: up to its first full state, or what came in 2 s.
    let text = '';
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    const stop = setTimeout(() => controller.abort(), 2000);
    try {
      while (reader !== undefined && !text.includes('"kind":"synced"')) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      clearTimeout(stop);
      controller.abort();
    }
    return { status: response.status, text };
  };

  beforeAll(async () => {
    api = await startApiEngine();
    const admin = createHttpExecutionClient({ server: api.control.url, token: api.token });
    for (const [name, vm] of [
      [OWN, 'sql-01'],
      [OTHER, 'web-01'],
    ] as const) {
      const parsed = splitParsed(api.text, name, vm);
      const text = parsed.text;
      const upload = await fetch(`${api.control.url}/api/v1/plans`, {
        method: 'POST',
        headers: { ...api.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ file: `${name}.yaml`, text }),
      });
      const stored = (await upload.json()) as Json;
      expect(upload.status, JSON.stringify(stored)).toBe(201);
      const { id } = await admin.submit({
        type: 'test',
        plan: parsed.plan,
        hash: parsed.hash,
        reason: 'scope',
      });
      plans[name] = { hash: parsed.hash, execution: id };
    }
    for (const { execution } of Object.values(plans)) {
      expect(await waitForStatus(admin, execution, ['awaiting-cleanup', 'failed'], 120_000)).toMatchObject({
        status: 'awaiting-cleanup',
      });
    }
    await admin.close();
    // The agents' RPO samples, as they report them: sql-01 from dc-east, web-01 from dc-west.
    const now = Date.now();
    await api.control.ctx.history?.record([
      { vm: 'sql-01', site: 'dc-east', at: now, rpoSec: 40, health: 'Normal' },
      { vm: 'web-01', site: 'dc-west', at: now, rpoSec: 50, health: 'Normal' },
    ]);
    const doc = (await (await fetch(`${api.control.url}/openapi.json`)).json()) as Json;
    paths = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path, item]) => item.get !== undefined && path.startsWith('/api/v1/'))
      // The agents' routes take a client certificate, not a token; the vault's CA is public.
      .filter(([path]) => !path.startsWith('/api/v1/agents/') && path !== '/api/v1/vault/ca')
      .map(([path]) => path);
  }, 240_000);
  afterAll(async () => {
    await api?.close();
  });

  /** `path` with its parameters filled for `plan` (its execution, its name and hash). */
  const fill = (path: string, plan: string): string => {
    const own = plans[plan] ?? { hash: '', execution: '' };
    const values: Record<string, string> = {
      id: own.execution,
      name: plan,
      hash: own.hash,
      sha256: '0'.repeat(64),
      step: 'sql-01%2Fboot',
      site: 'dc-east',
    };
    const filled = path.replace(/\{(\w+)\}/g, (_, key: string) => values[key] ?? key);
    // The routes a query needs: the VMs of both plans, the plan asked for.
    if (path === '/api/v1/history') return `${filled}?vm=sql-01&vm=web-01`;
    if (path === '/api/v1/executions') return `${filled}?limit=100`;
    return filled;
  };

  it('walks the GET routes the issue names (so an empty document cannot pass)', () => {
    for (const path of [
      '/api/v1/history',
      '/api/v1/locks',
      '/api/v1/stream',
      '/api/v1/auto',
      '/api/v1/audit',
      '/api/v1/executions/{id}/report',
      '/api/v1/executions/{id}/reports/{sha256}',
      '/api/v1/executions/{id}/vms',
      '/api/v1/plans/{name}/drills',
      '/api/v1/plans/{name}/graph',
    ]) {
      expect(paths).toContain(path);
    }
  });

  it("shows the admin both plans' executions and locks (the fixture holds what the checks look for)", async () => {
    const history = await get(api.token, '/api/v1/history?vm=sql-01&vm=web-01');
    expect(history.text).toContain('"site":"dc-west"');
    for (const path of ['/api/v1/executions?limit=100', '/api/v1/locks', '/api/v1/stream', '/api/v1/auto']) {
      const answer = await get(api.token, path);
      for (const plan of [OWN, OTHER]) {
        if (path !== '/api/v1/auto') expect(answer.text, path).toContain(plans[plan]?.execution);
        expect(answer.text, path).toContain(plan);
      }
    }
  });

  it(`answers a token scoped to plan ${OWN} nothing of ${OTHER}, on every GET route`, async () => {
    const token = await tokenFor(api.control, 'viewer', { scopes: { plans: [OWN] } });
    const leaks: string[] = [];
    for (const path of paths) {
      const answer = await get(token, fill(path, OWN));
      for (const secret of [OTHER, plans[OTHER]?.execution ?? '']) {
        if (answer.text.includes(secret)) leaks.push(`${path} (${answer.status}) holds ${secret}`);
      }
      // Its own plan's routes answer (a route that refused everything would pass the check above).
      if (
        answer.status === 403 &&
        !['/api/v1/audit', '/api/v1/tokens', '/api/v1/notifications'].includes(path)
      )
        leaks.push(`${path} refused its own plan: ${answer.text}`);
    }
    expect(leaks).toEqual([]);
  });

  it(`refuses a token scoped to plan ${OWN} every route that names ${OTHER} or its execution: 403`, async () => {
    const token = await tokenFor(api.control, 'viewer', { scopes: { plans: [OWN] } });
    const answers: string[] = [];
    for (const path of paths.filter((p) => /\{(id|name)\}/.test(p))) {
      const answer = await get(token, fill(path, OTHER));
      if (answer.status !== 403 || !answer.text.includes('OUT_OF_SCOPE'))
        answers.push(`${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    const locks = await get(token, `/api/v1/locks?plan=${OTHER}`);
    if (locks.status !== 403) answers.push(`/api/v1/locks?plan=${OTHER}: ${locks.status} ${locks.text}`);
    expect(answers).toEqual([]);
  });

  it("answers a token scoped to dc-east none of the plans (they touch dc-west too), nor dc-west's items", async () => {
    const token = await tokenFor(api.control, 'viewer', { scopes: { sites: ['dc-east'] } });
    const leaks: string[] = [];
    for (const path of paths) {
      const answer = await get(token, fill(path, OWN));
      for (const secret of [OWN, OTHER, plans[OWN]?.execution ?? '', plans[OTHER]?.execution ?? '']) {
        // A refusal names what the call asked for: the plan or execution the caller gave.
        if (answer.status !== 403 && answer.text.includes(secret))
          leaks.push(`${path} (${answer.status}) holds ${secret}`);
      }
      if (answer.status === 200 && /"site":"dc-west"/.test(answer.text))
        leaks.push(`${path} holds an item of dc-west`);
    }
    expect(leaks).toEqual([]);
  });

  it('keeps the audit log to unscoped admins: a scoped admin and a viewer are refused', async () => {
    const scopedAdmin = await tokenFor(api.control, 'admin', { scopes: { plans: [OWN] } });
    const viewer = await tokenFor(api.control, 'viewer');
    const scoped = await get(scopedAdmin, '/api/v1/audit');
    expect(scoped.status).toBe(403);
    expect(JSON.parse(scoped.text)).toMatchObject({ code: 'OUT_OF_SCOPE' });
    const refused = await get(viewer, '/api/v1/audit');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).detail).toContain('audit:read');
    expect((await get(api.token, '/api/v1/audit')).status).toBe(200);
  });
});
