/**
 * The dashboard's files from the control plane, over its TLS: index.html at `/` and for the single
 * page's deep links, hashed assets cached for a year, a strict Content-Security-Policy, the API's
 * unknown paths still problems behind the token gate, and a clear page when web/dist is not built.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/temp.ts';
import { type DashboardStack, startDashboardStack } from './dashboard-support.ts';

const temp = useTempDirs();

describe('when web/dist is built', () => {
  let stack: DashboardStack;
  beforeAll(async () => {
    const dist = temp('drorch-dist-');
    mkdirSync(join(dist, 'assets'));
    writeFileSync(
      join(dist, 'index.html'),
      '<!doctype html><title>drorch</title><script type="module" src="/assets/app-1a2b3c.js"></script>',
    );
    writeFileSync(join(dist, 'assets', 'app-1a2b3c.js'), 'console.log("dashboard")');
    stack = await startDashboardStack(temp, { dashboardDir: dist });
  });
  afterAll(async () => await stack?.close());

  it('serves index.html at the root, revalidated, under a strict CSP', async () => {
    const reply = await stack.call('GET', '/');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/text\/html/);
    expect(reply.text).toContain('<title>drorch</title>');
    expect(reply.headers['cache-control']).toBe('no-cache');
    const csp = String(reply.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:/);
  });

  it('caches hashed assets for a year', async () => {
    const reply = await stack.call('GET', '/assets/app-1a2b3c.js');
    expect(reply.status).toBe(200);
    expect(reply.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('answers the single page for a deep link, and a 404 for a missing file', async () => {
    const deep = await stack.call('GET', '/executions/abc/timeline');
    expect(deep.status).toBe(200);
    expect(deep.text).toContain('<title>drorch</title>');
    expect((await stack.call('GET', '/assets/gone-123.js')).status).toBe(404);
  });

  it('keeps unknown API paths behind the gate, as problems', async () => {
    const reply = await stack.call('GET', '/api/v1/no-such-route');
    expect(reply.status).toBe(401);
    expect(reply.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});

describe('when web/dist is missing', () => {
  let stack: DashboardStack;
  beforeAll(async () => {
    stack = await startDashboardStack(temp, { dashboardDir: join(temp('drorch-nodist-'), 'dist') });
  });
  afterAll(async () => await stack?.close());

  it('says at the root how to build it', async () => {
    const reply = await stack.call('GET', '/');
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('The dashboard is not built');
    expect(reply.text).toContain('npm ci');
    expect(String(reply.headers['content-security-policy'])).toContain("default-src 'self'");
  });
});
