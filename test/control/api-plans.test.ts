/**
 * Plans in the vault through the API: an upload is validated as `drctl validate` validates a file
 * (every issue located file:line:column), stored by content hash, and listed by version; the
 * OpenAPI document describes every route of plans and executions with its schemas.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  buildControlApp,
  type ControlApp,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import { authed } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const three = readFileSync('plans/examples/three-tier.yaml', 'utf8');

describe('plans in the vault', () => {
  let app: ControlApp;
  const inject = authed(
    () => app,
    () => ({ redis, prefix }),
  );
  const redis = testRedisClient();
  const prefix = uniquePrefix('plans');
  beforeAll(async () => {
    app = await buildControlApp(
      {
        redis,
        redisUrl: testRedisUrl(),
        prefix,
        log: createLogger('test', { level: 'silent' }),
        metrics: createControlMetrics(),
        readiness: {},
      },
      { routes: controlRoutes },
    );
  });
  afterAll(async () => {
    await app.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  const upload = (text: string, file = 'erp.yaml') =>
    inject({ method: 'POST', url: '/api/v1/plans', payload: { file, text } });

  describe('when the plan is invalid', () => {
    it('answers 400 PLAN_INVALID with every issue at file:line:column, as drctl validate prints them', async () => {
      const bad = three
        .replace('dependsOn: [sql-01]', 'dependsOn: [sql-99]')
        .replace('bootEstimate: 45s', 'bootEstimate: soon');
      const reply = await upload(bad);
      expect(reply.statusCode).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = reply.json();
      expect(problem.code).toBe('PLAN_INVALID');
      const parsed = parsePlan(bad, 'erp.yaml');
      if (parsed.ok) throw new Error('the mutated plan should be invalid');
      expect(problem.details.issues).toEqual(parsed.issues);
      expect(problem.issues.map((i: { path: string }) => i.path)).toEqual(
        parsed.issues.map((i) => `erp.yaml:${i.line}:${i.column}`),
      );
      expect(problem.issues.length).toBeGreaterThanOrEqual(2);
      expect(problem.detail).toContain('erp.yaml:');
      expect((await inject('/api/v1/plans')).json()).toEqual({ plans: [] });
    });

    it('answers a YAML syntax error with its place', async () => {
      const reply = await upload('apiVersion: dr/v1\nkind: [RecoveryPlan\n', 'broken.yaml');
      expect(reply.statusCode).toBe(400);
      expect(reply.json().issues[0].path).toMatch(/^broken\.yaml:\d+:\d+$/);
    });

    it('refuses an upload that brings anything but the YAML and its file name', async () => {
      const reply = await inject({
        method: 'POST',
        url: '/api/v1/plans',
        payload: { file: 'erp.yaml', text: three, scripts: { 'update-dns.sh': 'rm -rf /' } },
      });
      expect(reply.statusCode).toBe(400);
      expect(reply.json().code).toBe('BAD_REQUEST');
    });
  });

  describe('when the plan is valid', () => {
    it('stores it by hash; the same version again changes nothing; a changed plan is a new version', async () => {
      const first = await upload(three);
      expect(first.statusCode).toBe(201);
      const parsed = parsePlan(three, 'erp.yaml');
      if (!parsed.ok) throw new Error('three-tier should parse');
      expect(first.json()).toMatchObject({
        created: true,
        version: { name: 'erp', hash: parsed.hash, vms: 4 },
      });
      const again = await upload(three);
      expect(again.statusCode).toBe(200);
      expect(again.json().created).toBe(false);

      const changed = three.replace('bootEstimate: 45s', 'bootEstimate: 50s');
      const second = (await upload(changed)).json();
      expect(second.created).toBe(true);
      expect(second.version.hash).not.toBe(parsed.hash);

      const versions = (await inject('/api/v1/plans/erp/versions')).json().versions;
      expect(versions.map((v: { hash: string }) => v.hash).sort()).toEqual(
        [parsed.hash, second.version.hash].sort(),
      );
      const latest = (await inject('/api/v1/plans/erp')).json();
      expect(latest.text).toBe(changed);
      const one = (await inject(`/api/v1/plans/erp/versions/${parsed.hash}`)).json();
      expect(one.text).toBe(three);
      expect((await inject('/api/v1/plans')).json().plans).toMatchObject([{ name: 'erp', versions: 2 }]);
    });

    it('answers an unknown plan or version with 404', async () => {
      expect((await inject('/api/v1/plans/nope')).json().code).toBe('PLAN_NOT_FOUND');
      const reply = await inject(`/api/v1/plans/erp/versions/${'0'.repeat(64)}`);
      expect(reply.statusCode).toBe(404);
      expect(reply.json().code).toBe('PLAN_VERSION_NOT_FOUND');
    });
  });

  it('describes every plans and executions route in /openapi.json, with its schemas', async () => {
    const doc = (await inject('/openapi.json')).json();
    const routes: Array<[string, string, 'body' | 'none']> = [
      ['post', '/api/v1/plans', 'body'],
      ['get', '/api/v1/plans', 'none'],
      ['get', '/api/v1/plans/{name}', 'none'],
      ['get', '/api/v1/plans/{name}/versions', 'none'],
      ['get', '/api/v1/plans/{name}/versions/{hash}', 'none'],
      ['post', '/api/v1/executions:preflight', 'body'],
      ['post', '/api/v1/executions', 'body'],
      ['get', '/api/v1/executions', 'none'],
      ['get', '/api/v1/executions/{id}', 'none'],
      ['get', '/api/v1/executions/{id}/events', 'none'],
      ['get', '/api/v1/executions/{id}/waits', 'none'],
      ['get', '/api/v1/executions/{id}/lifecycle', 'none'],
      ['post', '/api/v1/executions/{id}/approvals', 'body'],
      ['post', '/api/v1/executions/{id}/cleanup', 'body'],
    ];
    for (const [method, path, body] of routes) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method.toUpperCase()} ${path}`).toBeDefined();
      const ok = operation.responses['200'] ?? operation.responses['201'];
      expect(Object.keys(ok.content ?? {}), `${path} response`).toContain('application/json');
      const problems = Object.keys(operation.responses).filter((status) => Number(status) >= 400);
      expect(problems.length, `${path} problem responses`).toBeGreaterThan(0);
      if (body === 'body')
        expect(operation.requestBody.content['application/json'].schema, `${path} body`).toBeDefined();
    }
    expect(doc.paths['/api/v1/executions/{id}/events'].get.responses['200'].content).toHaveProperty(
      'text/event-stream',
    );
    for (const name of [
      'SubmitRequest',
      'PreflightRequest',
      'PreflightReport',
      'ExecutionView',
      'PlanUpload',
    ])
      expect(doc.components.schemas, name).toHaveProperty(name);
    expect(doc.components.schemas.SubmitRequest.required).toEqual(
      expect.arrayContaining(['type', 'plan', 'reason']),
    );
    // Who submits is the token's owner, never what the client says.
    expect(doc.components.schemas.SubmitRequest.properties).not.toHaveProperty('by');
  });
});
