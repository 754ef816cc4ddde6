/**
 * Roles, scopes and tokens against a real control plane over HTTP (startControlPlane, its
 * orchestrator, the sites' workers and the simulated world in process). Every refusal is its own
 * request to the server; the audit log records the accepted and the refused calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpExecutionClient, type HttpExecutionClient, whoAmI } from '../../engine/client/index.ts';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { approveAsOperator, waitForStatus } from '../engine/support.ts';
import { bearer, tokenFor } from '../support/auth.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;

interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

describe('who may do what on the control plane', { timeout: 300_000 }, () => {
  let api: ApiEngine;
  const tokens: Record<string, string> = {};
  let drill = '';
  let failover = '';
  let approver: { stop(): void; client: HttpExecutionClient } | undefined;
  const call = async (token: string | undefined, { method, path, body }: Call) => {
    const response = await fetch(`${api.control.url}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : bearer(token)),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text === '' ? {} : JSON.parse(text)) as Json,
    };
  };
  const clientAs = (role: string): HttpExecutionClient =>
    createHttpExecutionClient({ server: api.control.url, token: tokens[role] ?? '' });

  beforeAll(async () => {
    api = await startApiEngine();
    for (const role of ['viewer', 'drill-operator', 'operator'] as const) {
      tokens[role] = await tokenFor(api.control, role, { owner: `${role}-owner` });
    }
    tokens.admin = api.token;
    // The admin stores the plan; a drill operator runs a drill of it, approves its manual action
    // and cleans it up; an operator starts a planned failover: each accepted, with its actor.
    const upload = await call(api.token, {
      method: 'POST',
      path: '/api/v1/plans',
      body: { file: api.file, text: api.text },
    });
    expect(upload.status).toBe(201);
    const drills = clientAs('drill-operator');
    const submitted = await drills.submit({
      type: 'test',
      plan: api.plan,
      hash: api.hash,
      reason: 'rehearsal',
    });
    drill = submitted.id;
    const approving = approveAsOperator(drills, drill);
    const done = await waitForStatus(drills, drill, ['awaiting-cleanup', 'failed'], 120_000);
    approving.stop();
    expect(done).toMatchObject({ status: 'awaiting-cleanup', by: 'drill-operator-owner' });
    const cleanup = await drills.cleanup(drill, { reason: 'rehearsal over' });
    await waitForStatus(drills, cleanup.id, ['completed', 'failed'], 120_000);
    const operators = clientAs('operator');
    failover = (await operators.submit({ type: 'planned', plan: api.plan, hash: api.hash, reason: 'move' }))
      .id;
    // The operator approves the failover's manual action (confirm-san) when it waits on it.
    approver = { stop: approveAsOperator(operators, failover).stop, client: operators };
    await drills.close();
  }, 240_000);
  afterAll(async () => {
    approver?.stop();
    await approver?.client.close();
    await api?.close();
  });

  const planRef = () => ({ name: 'erp', hash: api.hash });
  const exec =
    (id: () => string, tail: string, body: unknown = { reason: 'x' }): (() => Call) =>
    () => ({
      method: 'POST',
      path: `/api/v1/executions/${id()}/${tail}`,
      body,
    });
  const drillId = () => drill;
  const failoverId = () => failover;
  const operations: Record<string, () => Call> = {
    'upload a plan': () => ({
      method: 'POST',
      path: '/api/v1/plans',
      body: { file: api.file, text: api.text },
    }),
    'start a drill': () => ({
      method: 'POST',
      path: '/api/v1/executions',
      body: { type: 'test', plan: planRef(), reason: 'x' },
    }),
    'start a planned failover': () => ({
      method: 'POST',
      path: '/api/v1/executions',
      body: { type: 'planned', plan: planRef(), reason: 'x' },
    }),
    'start an unplanned failover': () => ({
      method: 'POST',
      path: '/api/v1/executions',
      body: { type: 'unplanned', plan: planRef(), reason: 'x' },
    }),
    'clean up a drill': exec(drillId, 'cleanup'),
    "approve a drill's action": exec(drillId, 'approvals', { action: 'confirm-san' }),
    "retry a drill's step": exec(drillId, 'steps/sql-01%2Fboot/retry'),
    "approve a failover's action": exec(failoverId, 'approvals', { action: 'confirm-san' }),
    "retry a failover's step": exec(failoverId, 'steps/sql-01%2Fboot/retry'),
    "skip a failover's step": exec(failoverId, 'steps/sql-01%2Fboot/skip'),
    "mark a failover's step done": exec(failoverId, 'steps/sql-01%2Fboot/done'),
    'commit a failover': exec(failoverId, 'commit', {}),
    'cancel a failover': exec(failoverId, 'cancel', {}),
    "change a failover's recovery point": exec(failoverId, 'change-point', {
      recoveryPoint: { kind: 'latest' },
    }),
    'reprotect a failover': exec(failoverId, 'reprotect', {}),
    'fail back a failover': exec(failoverId, 'failback', {}),
    "reprotect a plan's failover": () => ({ method: 'POST', path: '/api/v1/plans/erp/reprotect', body: {} }),
    "fail back a plan's failover": () => ({ method: 'POST', path: '/api/v1/plans/erp/failback', body: {} }),
    'release locks': () => ({ method: 'POST', path: '/api/v1/locks/release', body: { plan: 'erp' } }),
    'protect VMs': () => ({
      method: 'POST',
      path: '/api/v1/protections',
      body: { file: api.file, text: api.text, action: 'Nothing', reason: 'x' },
    }),
    'create a token': () => ({
      method: 'POST',
      path: '/api/v1/tokens',
      body: { owner: 'eve', role: 'admin' },
    }),
    'list tokens': () => ({ method: 'GET', path: '/api/v1/tokens' }),
    'revoke a token': () => ({ method: 'POST', path: '/api/v1/tokens/0123456789abcdef/revoke' }),
    'read the audit log': () => ({ method: 'GET', path: '/api/v1/audit' }),
  };
  /** What each operation needs, as the refusal must name it. */
  const needs: Record<string, string> = {
    'upload a plan': 'plan:write',
    'start a drill': 'drill:submit',
    'start a planned failover': 'failover:submit on plan erp',
    'start an unplanned failover': 'failover:submit on plan erp',
    'clean up a drill': 'drill:cleanup',
    "approve a drill's action": 'drill:approve',
    "retry a drill's step": 'drill:step',
    "approve a failover's action": 'failover:approve on plan erp',
    "retry a failover's step": 'failover:step on plan erp',
    "skip a failover's step": 'failover:step on plan erp',
    "mark a failover's step done": 'failover:step on plan erp',
    'commit a failover': 'failover:commit',
    'cancel a failover': 'failover:cancel',
    "change a failover's recovery point": 'failover:change-point',
    'reprotect a failover': 'failover:reprotect',
    'fail back a failover': 'failover:failback',
    "reprotect a plan's failover": 'failover:reprotect',
    "fail back a plan's failover": 'failover:failback',
    'release locks': 'lock:release',
    'protect VMs': 'protect:submit',
    'create a token': 'token:manage',
    'list tokens': 'token:manage',
    'revoke a token': 'token:manage',
    'read the audit log': 'audit:read',
  };
  const adminOnly = [
    'upload a plan',
    'release locks',
    'protect VMs',
    'create a token',
    'list tokens',
    'revoke a token',
    'read the audit log',
  ];
  const failoverOps = Object.keys(operations).filter((name) => /failover|plan's/.test(name));
  const refusedTo: Record<string, string[]> = {
    viewer: Object.keys(operations),
    'drill-operator': [...failoverOps, ...adminOnly],
    operator: adminOnly,
  };

  for (const [role, names] of Object.entries(refusedTo)) {
    describe(`a ${role} token`, () => {
      for (const name of names) {
        it(`may not ${name}: 403 naming ${needs[name]}`, async () => {
          const answer = await call(tokens[role], (operations[name] as () => Call)());
          expect(answer.status, JSON.stringify(answer.body)).toBe(403);
          expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          expect(answer.body.code).toBe('FORBIDDEN');
          // Refused on its role alone, before the body is read, a call names what it may need;
          // refused on what it acts on, it names the plan too.
          const need = role === 'viewer' ? (needs[name] ?? '').replace(' on plan erp', '') : needs[name];
          expect(answer.body.detail).toContain(need);
          expect(answer.body.detail).toContain(`role ${role}`);
        });
      }
    });
  }

  it('records the caller as the actor of what it started: the token owner, not what the client says', async () => {
    const view = (await call(tokens.viewer, { method: 'GET', path: `/api/v1/executions/${failover}` })).body;
    expect(view.by).toBe('operator-owner');
    const withBy = await call(tokens.operator, {
      method: 'POST',
      path: '/api/v1/executions',
      body: { type: 'planned', plan: planRef(), by: 'someone-else', reason: 'x' },
    });
    expect(withBy.status).toBe(400);
  });

  it('lets every role read: status, lists, sites', async () => {
    for (const role of ['viewer', 'drill-operator', 'operator', 'admin']) {
      expect(
        (await call(tokens[role], { method: 'GET', path: `/api/v1/executions/${failover}` })).status,
      ).toBe(200);
      expect((await call(tokens[role], { method: 'GET', path: '/api/v1/executions' })).status).toBe(200);
      expect((await call(tokens[role], { method: 'GET', path: '/api/v1/sites' })).status).toBe(200);
    }
  });

  describe('without a valid token', () => {
    it('answers 401 to a call with no token, with WWW-Authenticate', async () => {
      const answer = await call(undefined, { method: 'GET', path: '/api/v1/executions' });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(answer.body).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      expect(answer.body.detail).toContain('Authorization: Bearer');
    });
    it('answers 401 to a mutating call with no token, before reading its body', async () => {
      const answer = await call(undefined, {
        method: 'POST',
        path: '/api/v1/executions',
        body: { nonsense: true },
      });
      expect(answer.status).toBe(401);
    });
    it('answers 401 to a token this vault did not issue', async () => {
      const forged = `drt_0123456789abcdef_${'A'.repeat(43)}`;
      expect((await call(forged, { method: 'GET', path: '/api/v1/executions' })).body.code).toBe(
        'TOKEN_UNKNOWN',
      );
      expect((await call('not-a-token', { method: 'GET', path: '/api/v1/executions' })).body.code).toBe(
        'TOKEN_MALFORMED',
      );
    });
    it('answers 401 to an expired token', async () => {
      const expired = await tokenFor(api.control, 'admin', { owner: 'brief', expiresInMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const answer = await call(expired, { method: 'GET', path: '/api/v1/executions' });
      expect(answer.status).toBe(401);
      expect(answer.body.code).toBe('TOKEN_EXPIRED');
      expect(answer.body.detail).toContain('expired at');
    });
    it('answers 401 to a token revoked through the API, from its next request on', async () => {
      const created = await call(api.token, {
        method: 'POST',
        path: '/api/v1/tokens',
        body: { owner: 'leaver', role: 'operator' },
      });
      expect(created.status).toBe(201);
      expect(created.body.record).toMatchObject({
        owner: 'leaver',
        role: 'operator',
        createdBy: whoAmI(),
      });
      const token: string = created.body.token;
      expect((await call(token, { method: 'GET', path: '/api/v1/executions' })).status).toBe(200);
      const revoked = await call(api.token, {
        method: 'POST',
        path: `/api/v1/tokens/${created.body.record.id}/revoke`,
      });
      expect(revoked.body).toMatchObject({ revokedBy: whoAmI() });
      const after = await call(token, { method: 'GET', path: '/api/v1/executions' });
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('TOKEN_REVOKED');
      const listed = await call(api.token, { method: 'GET', path: '/api/v1/tokens' });
      expect(JSON.stringify(listed.body)).not.toContain(token.split('_')[2]);
    });
  });

  describe('scopes', () => {
    it('refuses an operator scoped to another plan: 403 OUT_OF_SCOPE', async () => {
      const other = await tokenFor(api.control, 'operator', { scopes: { plans: ['crm'] } });
      const answer = await call(other, exec(failoverId, 'cancel', {})());
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe('OUT_OF_SCOPE');
      expect(answer.body.detail).toContain('failover:cancel on plan erp');
      expect(answer.body.detail).toContain("the token's plans are crm");
      const read = await call(other, { method: 'GET', path: `/api/v1/executions/${failover}` });
      expect(read.status).toBe(403);
    });
    it('refuses an operator scoped to one of the two sites the plan touches', async () => {
      const east = await tokenFor(api.control, 'operator', { scopes: { sites: ['dc-east'] } });
      const answer = await call(east, operations['start a planned failover']?.() as Call);
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe('OUT_OF_SCOPE');
      expect(answer.body.detail).toContain('touches dc-west');
    });
    it('refuses a scoped admin a call that names no plan (tokens)', async () => {
      const scopedAdmin = await tokenFor(api.control, 'admin', { scopes: { plans: ['erp'] } });
      const answer = await call(scopedAdmin, { method: 'GET', path: '/api/v1/tokens' });
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe('OUT_OF_SCOPE');
    });
    it('lets a token scoped to the plan and both its sites act on it', async () => {
      const erp = await tokenFor(api.control, 'viewer', {
        scopes: { plans: ['erp'], sites: ['dc-east', 'dc-west'] },
      });
      expect((await call(erp, { method: 'GET', path: `/api/v1/executions/${failover}` })).status).toBe(200);
    });
  });

  describe('what stays open', () => {
    it('serves the probes, the metrics and the OpenAPI document without a token', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
        expect((await fetch(`${api.control.url}${path}`)).status, path).toBe(200);
      }
    });
    it("does not ask the agents' routes for a token (their certificate is theirs)", async () => {
      const answer = await call(undefined, {
        method: 'POST',
        path: '/api/v1/agents/dc-east/heartbeat',
        body: {},
      });
      expect(answer.status).not.toBe(401);
      expect(answer.status).toBe(400);
    });
    it('declares the bearer and session-cookie schemes in the OpenAPI document, and mutual TLS for the agents', async () => {
      const doc = (await (await fetch(`${api.control.url}/openapi.json`)).json()) as Json;
      expect(doc.components.securitySchemes.bearerToken).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(doc.components.securitySchemes.sessionCookie).toMatchObject({
        type: 'apiKey',
        in: 'cookie',
        name: 'drctl_session',
      });
      expect(doc.security).toEqual([{ bearerToken: [] }, { sessionCookie: [] }]);
      // The sign-in itself takes the token in its body.
      expect(doc.paths['/api/v1/session'].post.security).toEqual([]);
      expect(doc.paths['/api/v1/agents/{site}/heartbeat'].post.security).toEqual([{ agentCertificate: [] }]);
    });
    it('counts every refusal in /metrics', async () => {
      const text = await (await fetch(`${api.control.url}/metrics`)).text();
      const count = (code: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith('drorch_auth_refused_total{') && line.includes(`code="${code}"`))
          .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
      expect(count('FORBIDDEN')).toBeGreaterThanOrEqual(refusedTo.viewer?.length ?? 0);
      expect(count('UNAUTHENTICATED')).toBeGreaterThanOrEqual(2);
      expect(count('TOKEN_EXPIRED')).toBeGreaterThanOrEqual(1);
      expect(count('TOKEN_REVOKED')).toBeGreaterThanOrEqual(1);
      expect(count('OUT_OF_SCOPE')).toBeGreaterThanOrEqual(3);
    });
  });

  describe('the audit log', () => {
    let entries: Json[] = [];
    beforeAll(async () => {
      const approved = (list: Json[]) =>
        list.some((e) => e.action === 'failover:approve' && e.outcome === 'accepted');
      const deadline = Date.now() + 60_000;
      for (;;) {
        const answer = await call(api.token, { method: 'GET', path: '/api/v1/audit?verify=true' });
        expect(answer.status).toBe(200);
        expect(answer.body.verdict).toMatchObject({ ok: true });
        entries = answer.body.entries;
        if (approved(entries) || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }, 90_000);
    it('records an accepted submit with who, from where, the execution and its epoch', () => {
      const submit = entries.find((e) => e.action === 'failover:submit' && e.outcome === 'accepted');
      expect(submit).toMatchObject({
        actor: 'operator-owner',
        role: 'operator',
        route: 'POST /api/v1/executions',
        ip: '127.0.0.1',
        execution: failover,
        plan: 'erp',
        status: 201,
      });
      expect(submit.epoch).toBeGreaterThan(0);
      const approval = entries.find((e) => e.action === 'failover:approve' && e.outcome === 'accepted');
      expect(approval).toMatchObject({ actor: 'operator-owner', execution: failover, plan: 'erp' });
    });
    it('records each refused call: the role, the permission asked for, the code', () => {
      const refused = entries.find(
        (e) => e.actor === 'viewer-owner' && e.route === 'POST /api/v1/executions/:id/commit',
      );
      expect(refused).toMatchObject({
        outcome: 'refused',
        status: 403,
        code: 'FORBIDDEN',
        action: 'failover:commit',
      });
      const anonymous = entries.find((e) => e.actor === 'anonymous' && e.code === 'UNAUTHENTICATED');
      expect(anonymous).toMatchObject({ outcome: 'refused', status: 401, action: 'authenticate' });
      const scoped = entries.find((e) => e.code === 'OUT_OF_SCOPE' && e.action === 'failover:cancel');
      expect(scoped).toMatchObject({ execution: failover, plan: 'erp' });
    });
    it('records the drill and its cleanup under the drill operator', () => {
      expect(entries.find((e) => e.action === 'drill:cleanup')).toMatchObject({
        actor: 'drill-operator-owner',
        outcome: 'accepted',
        execution: drill,
      });
    });
  });
});
