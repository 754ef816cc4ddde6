/**
 * The least role each route rule names (issue 12): over every mutating route of the OpenAPI
 * document, a viewer is refused everything and a drill operator everything but a drill's own calls
 * (submit, pre-flight, approve, step commands and cleanup of a test), each with 403 naming the
 * permission it lacks. Against a real control plane with a drill awaiting its cleanup and a
 * planned failover waiting on its manual action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants } from '../../engine/control/auth/roles.ts';
import { ROUTE_RULES } from '../../engine/control/auth/route-rules.ts';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { waitForStatus } from '../engine/support.ts';
import { bearer, tokenFor } from '../support/auth.ts';
import { splitParsed } from '../support/split-plan.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;

const API = '/api/v1';
/** Routes whose credential is not a token, or that every role may call (the dashboard's sign-in). */
const NOT_BY_ROLE = new Set([`POST ${API}/session`, `DELETE ${API}/session`, `POST ${API}/vault/register`]);

describe('each mutating route needs its least role', { timeout: 300_000 }, () => {
  let api: ApiEngine;
  let drill = '';
  let failover = '';
  const tokens: Record<string, string> = {};
  let routes: string[] = [];
  /** The failover's plan (`erp`: web-01) and the drill's (`erp-drill`: sql-01), apart so both can run. */
  let erp = { text: '', hash: '' };

  const call = async (token: string, method: string, path: string, body: unknown) => {
    const response = await fetch(`${api.control.url}${path}`, {
      method,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Json };
  };

  beforeAll(async () => {
    api = await startApiEngine();
    for (const role of ['viewer', 'drill-operator', 'operator'] as const)
      tokens[role] = await tokenFor(api.control, role);
    const drills = splitParsed(api.text, 'erp-drill', 'sql-01');
    const failovers = splitParsed(api.text, 'erp', 'web-01');
    erp = failovers;
    for (const split of [drills, failovers]) {
      const upload = await call(api.token, 'POST', `${API}/plans`, { file: 'plan.yaml', text: split.text });
      expect(upload.status).toBe(201);
    }
    drill = (await api.client.submit({ type: 'test', plan: drills.plan, hash: drills.hash, reason: 'drill' }))
      .id;
    expect(await waitForStatus(api.client, drill, ['awaiting-cleanup', 'failed'], 120_000)).toMatchObject({
      status: 'awaiting-cleanup',
    });
    failover = (
      await api.client.submit({ type: 'planned', plan: failovers.plan, hash: failovers.hash, reason: 'move' })
    ).id;
    const doc = (await (await fetch(`${api.control.url}/openapi.json`)).json()) as Json;
    routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      ['post', 'put', 'patch', 'delete']
        .filter((method) => item[method] !== undefined && !path.startsWith(`${API}/agents/`))
        .map(
          (method) =>
            `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1').replace(/([a-z]):(preflight)$/, '$1::$2')}`,
        ),
    );
  }, 240_000);
  afterAll(async () => {
    await api?.close();
  });

  /** A valid request for `route` on the failover (or, `drill`, on the drill), so only the role decides. */
  const request = (route: string, on: 'failover' | 'drill') => {
    const [method = '', pattern = ''] = route.split(' ');
    const type = on === 'drill' ? 'test' : 'planned';
    const values: Record<string, string> = {
      id: on === 'drill' ? drill : failover,
      name: 'erp',
      site: 'dc-east',
      step: 'sql-01%2Fboot',
    };
    const path = pattern.replace('::', ':').replace(/:(\w+)/g, (whole, key: string) => values[key] ?? whole);
    const tail = pattern.split('/').pop() ?? '';
    const bodies: Record<string, unknown> = {
      executions: { type, plan: { name: 'erp', hash: erp.hash }, reason: 'x' },
      'executions::preflight': { type, plan: { name: 'erp', hash: erp.hash } },
      approvals: { action: 'confirm-san' },
      'change-point': { recoveryPoint: { kind: 'latest' } },
      plans: { file: 'plan.yaml', text: erp.text },
      release: { plan: 'erp' },
      protections: { file: 'plan.yaml', text: erp.text },
      tokens: { owner: 'x', role: 'viewer' },
      notifications: { url: 'https://example.invalid/hook' },
    };
    return { method, path, body: bodies[tail] ?? { reason: 'x' } };
  };

  /** The permission the drill operator lacks on the failover's variant of `route`. */
  const failoverNeed = (route: string): string => {
    const rule = ROUTE_RULES[route];
    const any = rule?.any ?? [];
    return any.find((p) => !p.startsWith('drill:') && p !== 'read') ?? any[0] ?? '';
  };
  const drillRoutes = () =>
    routes.filter((route) => ROUTE_RULES[route]?.any.some((p) => p.startsWith('drill:')));

  it('has a rule for every mutating route the API serves (and the table is not empty)', () => {
    const missing = routes.filter((route) => !NOT_BY_ROLE.has(route) && ROUTE_RULES[route] === undefined);
    expect(missing).toEqual([]);
    // Every mutating rule is a route served here, so the walk below covers the whole table.
    const unserved = Object.keys(ROUTE_RULES).filter(
      (key) => !key.startsWith('GET ') && !routes.includes(key),
    );
    expect(unserved).toEqual([]);
    expect(drillRoutes().sort()).toEqual(
      [
        `POST ${API}/executions`,
        `POST ${API}/executions::preflight`,
        `POST ${API}/executions/:id/approvals`,
        `POST ${API}/executions/:id/cleanup`,
        `POST ${API}/executions/:id/steps/:step/approve`,
        `POST ${API}/executions/:id/steps/:step/done`,
        `POST ${API}/executions/:id/steps/:step/retry`,
        `POST ${API}/executions/:id/steps/:step/skip`,
      ].sort(),
    );
  });

  it('refuses a viewer every mutating route: 403 naming the permission', async () => {
    const wrong: string[] = [];
    for (const route of routes.filter((r) => !NOT_BY_ROLE.has(r))) {
      for (const on of ['failover', 'drill'] as const) {
        const { method, path, body } = request(route, on);
        const answer = await call(tokens.viewer ?? '', method, path, body);
        const need = ROUTE_RULES[route]?.any[0] ?? '?';
        if (
          answer.status !== 403 ||
          answer.body.code !== 'FORBIDDEN' ||
          !String(answer.body.detail).includes(need)
        )
          wrong.push(`${route} (${on}): ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("refuses a drill operator every mutating route but a drill's, on the failover: 403 naming the permission", async () => {
    const wrong: string[] = [];
    for (const route of routes.filter((r) => !NOT_BY_ROLE.has(r))) {
      const { method, path, body } = request(route, 'failover');
      const answer = await call(tokens['drill-operator'] ?? '', method, path, body);
      const need = failoverNeed(route);
      // cleanup is a drill's only: on a failover it is the route's own refusal, not the role's.
      if (route === `POST ${API}/executions/:id/cleanup`) {
        if (answer.status === 403) wrong.push(`${route}: ${JSON.stringify(answer.body)}`);
        continue;
      }
      if (
        answer.status !== 403 ||
        answer.body.code !== 'FORBIDDEN' ||
        !String(answer.body.detail).includes(need)
      )
        wrong.push(
          `${route}: ${answer.status} (wanted 403 naming ${need}) ${JSON.stringify(answer.body).slice(0, 200)}`,
        );
    }
    expect(wrong).toEqual([]);
  });

  it("refuses an operator the admin's routes (plans, protections, locks, tokens, notifications, automatic failover, sites)", async () => {
    // Pinned here: a rule that let an operator through one of these would be a wider grant.
    const adminOnly = [
      `POST ${API}/plans`,
      `POST ${API}/protections`,
      `POST ${API}/locks/release`,
      `POST ${API}/tokens`,
      `POST ${API}/tokens/:id/revoke`,
      `POST ${API}/notifications`,
      `DELETE ${API}/notifications/:id`,
      `POST ${API}/notifications/:id/test`,
      `POST ${API}/auto/plans/:name/arm`,
      `POST ${API}/auto/plans/:name/disarm`,
      `POST ${API}/auto/plans/:name/drill`,
      `POST ${API}/sites/:site/maintenance`,
      `DELETE ${API}/sites/:site/maintenance`,
    ];
    const byRule = routes.filter(
      (route) =>
        !NOT_BY_ROLE.has(route) && !(ROUTE_RULES[route]?.any ?? []).some((p) => grants('operator', p)),
    );
    expect(byRule.sort()).toEqual([...adminOnly].sort());
    const wrong: string[] = [];
    for (const route of adminOnly) {
      const { method, path, body } = request(route, 'failover');
      const answer = await call(tokens.operator ?? '', method, path, body);
      const need = ROUTE_RULES[route]?.any[0] ?? '?';
      if (answer.status !== 403 || !String(answer.body.detail).includes(need))
        wrong.push(`${route}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("lets a drill operator make a drill's own calls past the gate (cleanup last)", async () => {
    const wrong: string[] = [];
    const ordered = [...drillRoutes()].sort(
      (a, b) => Number(a.endsWith('/cleanup')) - Number(b.endsWith('/cleanup')),
    );
    for (const route of ordered) {
      const { method, path, body } = request(route, 'drill');
      const answer = await call(tokens['drill-operator'] ?? '', method, path, body);
      // The route may refuse the call itself (nothing to approve, a step not failed: 409), never the gate.
      if (answer.status === 403 || answer.status === 401)
        wrong.push(`${route}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
  });
});
