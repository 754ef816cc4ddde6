/**
 * The dashboard's sign-in over the control plane's real TLS: a token traded for an HttpOnly
 * session cookie and a CSRF value; the cookie in place of a bearer on every /api/v1 route, with
 * the same roles; every refusal (no cookie, no or wrong CSRF, a viewer's approval, a revoked
 * token's session, a signed-out session) answered as a problem and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeToken } from '../../engine/control/auth/index.ts';
import { bearer, tokenFor } from '../support/auth.ts';
import { useTempDirs } from '../support/temp.ts';
import { type DashboardStack, httpsCall, sessionCookieOf, startDashboardStack } from './dashboard-support.ts';

const temp = useTempDirs();
let stack: DashboardStack;

beforeAll(async () => {
  stack = await startDashboardStack(temp, { dashboardDir: false });
});
afterAll(async () => await stack?.close());

async function signIn(role: 'viewer' | 'operator' | 'admin', owner = `dash-${role}`) {
  const token = await tokenFor(stack.control, role, { owner });
  const reply = await stack.call('POST', '/api/v1/session', { body: { token } });
  expect(reply.status).toBe(200);
  return { token, cookie: sessionCookieOf(reply), csrf: String(reply.json.csrf), reply };
}

describe('when a person signs in with a token', () => {
  it('answers who they are and sets an HttpOnly, SameSite=Strict, Secure cookie', async () => {
    const { reply, cookie } = await signIn('operator', 'ana');
    expect(reply.json).toMatchObject({
      actor: 'ana',
      role: 'operator',
      scopes: { plans: [], sites: [] },
    });
    expect(String(reply.json.csrf)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const line = [reply.headers['set-cookie'] ?? []].flat().find((l) => l.startsWith('drctl_session=')) ?? '';
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Secure/);
    expect(line).toMatch(/Path=\//);
    // The cookie is opaque: no part of the token in it.
    expect(cookie).not.toMatch(/drt_/);
  });

  it('never outlives its token', async () => {
    const token = await tokenFor(stack.control, 'viewer', { owner: 'short', expiresInMs: 60_000 });
    const reply = await stack.call('POST', '/api/v1/session', { body: { token } });
    expect(reply.status).toBe(200);
    expect(Date.parse(String(reply.json.expiresAt))).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('refuses a bad token with a 401 problem and audits the refusal', async () => {
    const reply = await stack.call('POST', '/api/v1/session', {
      body: { token: 'drt_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    });
    expect(reply.status).toBe(401);
    expect(reply.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(reply.json.code).toBe('TOKEN_UNKNOWN');
    expect(reply.headers['set-cookie']).toBeUndefined();
    const admin = await tokenFor(stack.control, 'admin');
    const audit = await stack.call('GET', '/api/v1/audit?limit=50', { headers: bearer(admin) });
    const entries = (audit.json.entries ?? []) as Array<Record<string, unknown>>;
    expect(entries.some((e) => e.action === 'session:create' && e.code === 'TOKEN_UNKNOWN')).toBe(true);
  });
});

describe('when the cookie stands in for the bearer', () => {
  it('reads with the cookie alone, and GET /session gives the same answer', async () => {
    const { cookie, reply } = await signIn('viewer');
    const plans = await stack.call('GET', '/api/v1/plans', { headers: { cookie } });
    expect(plans.status).toBe(200);
    const again = await stack.call('GET', '/api/v1/session', { headers: { cookie } });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(reply.json);
  });

  it('refuses a call with neither cookie nor bearer', async () => {
    const reply = await stack.call('GET', '/api/v1/plans');
    expect(reply.status).toBe(401);
    expect(reply.json.code).toBe('UNAUTHENTICATED');
    expect((await stack.call('GET', '/api/v1/session')).status).toBe(401);
  });

  it('refuses a change made with the cookie but without X-CSRF-Token, or with another', async () => {
    const { cookie, csrf } = await signIn('operator');
    const without = await stack.call('POST', '/api/v1/locks/release', { headers: { cookie }, body: {} });
    expect(without.status).toBe(403);
    expect(without.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(without.json.code).toBe('CSRF_REQUIRED');
    const wrong = await stack.call('POST', '/api/v1/locks/release', {
      headers: { cookie, 'x-csrf-token': `${csrf.slice(0, -1)}x` },
      body: {},
    });
    expect(wrong.json.code).toBe('CSRF_REQUIRED');
    // With it, the gate lets the call through to the route's own answer.
    const right = await stack.call('POST', '/api/v1/executions/nope/cancel', {
      headers: { cookie, 'x-csrf-token': csrf },
      body: {},
    });
    expect(right.json.code).not.toBe('CSRF_REQUIRED');
    expect([401, 403]).not.toContain(right.status);
  });

  it('needs no CSRF header on a bearer call', async () => {
    const token = await tokenFor(stack.control, 'operator');
    const reply = await stack.call('POST', '/api/v1/executions/nope/cancel', {
      headers: bearer(token),
      body: {},
    });
    expect(reply.json.code).not.toBe('CSRF_REQUIRED');
  });

  it("refuses a viewer's approval even with the right CSRF value", async () => {
    const { cookie, csrf } = await signIn('viewer');
    const reply = await stack.call('POST', '/api/v1/executions/any/approvals', {
      headers: { cookie, 'x-csrf-token': csrf },
      body: { step: 'x', approve: true },
    });
    expect(reply.status).toBe(403);
    expect(reply.json.code).toBe('FORBIDDEN');
  });

  it('ends the session when its token is revoked, and clears the cookie', async () => {
    const { cookie, token } = await signIn('operator', 'leaver');
    expect((await stack.call('GET', '/api/v1/plans', { headers: { cookie } })).status).toBe(200);
    await revokeToken(stack.redis, stack.prefix, token, 'test');
    const reply = await stack.call('GET', '/api/v1/plans', { headers: { cookie } });
    expect(reply.status).toBe(401);
    expect(reply.json.code).toBe('TOKEN_REVOKED');
    expect(String([reply.headers['set-cookie'] ?? []].flat()[0])).toMatch(
      /drctl_session=;.*Expires=Thu, 01 Jan 1970/,
    );
    // And it stays ended: the session was deleted, not merely refused.
    expect((await stack.call('GET', '/api/v1/session', { headers: { cookie } })).json.code).toBe(
      'SESSION_UNKNOWN',
    );
  });

  it('signs out: 204, the cookie cleared, the session gone', async () => {
    const { cookie, csrf } = await signIn('viewer');
    const out = await stack.call('DELETE', '/api/v1/session', { headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expect(String([out.headers['set-cookie'] ?? []].flat()[0])).toMatch(/^drctl_session=;/);
    const after = await stack.call('GET', '/api/v1/plans', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.json.code).toBe('SESSION_UNKNOWN');
  });

  it('opens the live stream with the cookie, over TLS, and refuses it without one', async () => {
    const { cookie } = await signIn('viewer');
    const live = await httpsCall(stack.control.url, stack.control.ca ?? [], 'GET', '/api/v1/stream', {
      headers: { cookie },
      until: (text) => text.includes('event: batch'),
    });
    expect(live.status).toBe(200);
    expect(live.headers['content-type']).toMatch(/text\/event-stream/);
    expect(live.text).toMatch(/^id: \d+-\d+$/m);
    const refused = await stack.call('GET', '/api/v1/stream');
    expect(refused.status).toBe(401);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('refuses a forged cookie', async () => {
    const reply = await stack.call('GET', '/api/v1/plans', {
      headers: { cookie: 'drctl_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    });
    expect(reply.status).toBe(401);
    expect(reply.json.code).toBe('SESSION_UNKNOWN');
  });
});
