/**
 * The one gate of the people routes: every route under `/api/v1` but the agents' own
 * (`/api/v1/agents/:site/*`, authenticated by their client certificates, engine/control/vault)
 * needs `Authorization: Bearer <token>`, or the dashboard's session cookie (auth/session.ts; with
 * `X-CSRF-Token` on a change). Outside `/api/v1`, `/healthz`, `/readyz`, `/metrics` and
 * `/openapi.json` stay open: probes and scrapers carry no token, and they change nothing.
 *
 * onRequest: no token, a malformed, unknown, expired or revoked one → 401; a role without any of
 * the permissions the route may need → 403 (before the body is read). preHandler: the exact
 * permission and the token's scopes, from the parsed request → 403 naming what is missing
 * (`failover:commit on plan erp (sites dc-east, dc-west)`). Every refusal is counted
 * (`drorch_auth_refused_total`) and written to the audit log, as is every mutating call (onResponse).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DrError } from '../../common/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { API_PREFIX } from '../context.ts';
import { problemOf, sendProblem } from '../problem.ts';
import { describeNeed, grants, outOfScope, type Permission } from './roles.ts';
import { type Need, READ_ONLY_METHODS, ROUTE_RULES, type RouteRule, readResource } from './route-rules.ts';
import { CSRF_HEADER, checkSession, csrfMatches, SESSION_COOKIE } from './session.ts';
import { checkToken, type TokenRecord } from './tokens.ts';

/** Agents' routes: their client certificate is their credential, not a token. */
export const AGENT_ROUTE_PREFIX = `${API_PREFIX}/agents/`;
/**
 * An agent's registration (vault/routes.ts): the vault's CA certificate (public), and the trade of
 * a single-use registration key and a CSR for a certificate; the key is the credential.
 */
export const REGISTRATION_ROUTES: ReadonlySet<string> = new Set([
  `${API_PREFIX}/vault/ca`,
  `${API_PREFIX}/vault/register`,
]);

/** `POST /api/v1/session`: the dashboard's sign-in, whose body carries the token. */
export const SIGN_IN_ROUTE = `${API_PREFIX}/session`;
const isSignIn = (request: FastifyRequest): boolean =>
  request.method === 'POST' && request.routeOptions.url === SIGN_IN_ROUTE;

/** The routes whose credential is not a token: the agents' and the registration's. */
export function isAgentRoute(url: string): boolean {
  return url.startsWith(AGENT_ROUTE_PREFIX) || REGISTRATION_ROUTES.has(url);
}

/** What the gate learnt of a request, for the route (the actor) and the audit log. */
export interface RequestAuth {
  token?: TokenRecord;
  need?: Need;
  /** What a call refused before its exact permission was known asked for (`failover:submit|drill:submit`). */
  action?: string;
  /** The code of the problem the call was answered with, when it was refused. */
  problemCode?: string;
  problemDetail?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: RequestAuth | null;
  }
  interface FastifyContextConfig {
    /**
     * The permission a route needs when it is not in ROUTE_RULES (a route group mounted by a test
     * or a later area): `config: { permission: 'read' }`.
     */
    permission?: Permission;
  }
}

/** The route's rule: the table's, else the one its config names. */
function ruleOf(key: string, config: { permission?: Permission } | undefined): RouteRule | undefined {
  const named = ROUTE_RULES[key];
  if (named !== undefined) return named;
  return config?.permission === undefined ? undefined : { any: [config.permission] };
}

/** The token's owner: who asks, as executions and the audit log record it. */
export function actorOf(request: FastifyRequest): string {
  const owner = request.auth?.token?.owner;
  if (owner === undefined) {
    throw new DrError('UNAUTHENTICATED', 'no authenticated caller on a people route', {
      details: { status: 401 },
    });
  }
  return owner;
}

const keyOf = (request: FastifyRequest): string | undefined =>
  request.routeOptions.url === undefined ? undefined : `${request.method} ${request.routeOptions.url}`;

export function registerAuth(app: ControlApp, ctx: ControlContext): void {
  app.decorateRequest('auth', null);
  // A people route without a rule would be closed to everyone: say so when it is mounted instead.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!route.url.startsWith(API_PREFIX) || isAgentRoute(route.url)) return;
    for (const method of methods) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      if (ruleOf(`${method} ${route.url}`, route.config) === undefined) {
        throw new Error(
          `route ${method} ${route.url} has no rule in engine/control/auth/route-rules.ts nor a config.permission`,
        );
      }
    }
  });

  const refuse = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: 400 | 401 | 403,
    code: string,
    detail: string,
  ): FastifyReply => {
    request.auth = { ...request.auth, problemCode: code, problemDetail: detail };
    ctx.metrics.authRefused.inc({ route: request.routeOptions.url ?? 'unknown', code });
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="drorch"');
    return sendProblem(reply, problemOf(new DrError(code, detail, { details: { status } }), request.url));
  };

  /**
   * A session cookie, judged as a token is (auth/session.ts), and a change made with it needs its
   * CSRF header: 403 CSRF_REQUIRED without it or with another.
   */
  const sessionCheck = async (
    request: FastifyRequest,
    cookie: string,
  ): Promise<
    { ok: true; record: TokenRecord } | { ok: false; status: 401 | 403; code: string; detail: string }
  > => {
    const session = await checkSession(ctx.redis, ctx.prefix, cookie);
    if (!session.ok) return { ...session, status: 401 };
    if (!READ_ONLY_METHODS.has(request.method) && !csrfMatches(session.csrf, request.headers[CSRF_HEADER])) {
      request.auth = { token: session.token };
      return {
        ok: false,
        status: 403,
        code: 'CSRF_REQUIRED',
        detail: `${request.method} ${request.url.split('?')[0]} with the dashboard's session cookie needs the header X-CSRF-Token: <csrf> (the value POST /api/v1/session answered)`,
      };
    }
    return { ok: true, record: session.token };
  };

  app.addHook('onRequest', async (request, reply) => {
    // Only origin-form targets: the router also takes an absolute-form one (`https://h/api/v1/...`)
    // to the route its path names, which no check on the raw target would see as under /api/v1.
    if (!request.url.startsWith('/')) {
      request.auth = {};
      return refuse(
        request,
        reply,
        400,
        'BAD_REQUEST_TARGET',
        'the request target must be a path (origin-form, starting with /), not an absolute URL',
      );
    }
    // The route matched, not the raw URL, decides (no `/agents/..%2f` trick reaches a people route);
    // an unmatched URL outside the agents' prefix still needs a token for its 404.
    const route = request.routeOptions.url ?? request.url;
    if (!route.startsWith(API_PREFIX) || isAgentRoute(route)) return;
    request.auth = {};
    const header = request.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // The dashboard's sign-in: the token in its body is the credential (auth/session-routes.ts).
    if (bearer === undefined && isSignIn(request)) return;
    const cookie = bearer === undefined ? request.cookies[SESSION_COOKIE] : undefined;
    if (bearer === undefined && cookie === undefined) {
      return refuse(
        request,
        reply,
        401,
        'UNAUTHENTICATED',
        `${request.method} ${request.url.split('?')[0]} needs a token: send Authorization: Bearer <token> (drctl: --token or DR_TOKEN; an admin makes one with \`drctl token create\`)`,
      );
    }
    const check =
      bearer !== undefined
        ? await checkToken(ctx.redis, ctx.prefix, bearer)
        : await sessionCheck(request, cookie ?? '');
    if (!check.ok) {
      const status = 'status' in check ? check.status : 401;
      // A session that has ended: the browser drops its cookie.
      if (status === 401 && cookie !== undefined) void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return refuse(request, reply, status, check.code, check.detail);
    }
    request.auth.token = check.record;
    const key = keyOf(request);
    if (key === undefined) return; // no such route: the 404, for an authenticated caller
    const rule = ruleOf(key, request.routeOptions.config);
    if (rule === undefined) {
      request.auth.action = 'none';
      return refuse(request, reply, 403, 'NO_RULE', `${key} has no permission rule; nobody may call it`);
    }
    if (!rule.any.some((permission) => grants(check.record.role, permission))) {
      request.auth.action = rule.any.join('|');
      return refuse(request, reply, 403, 'FORBIDDEN', forbidden(check.record, rule.any.join(' or ')));
    }
  });

  app.addHook('preHandler', async (request, reply) => {
    const token = request.auth?.token;
    const key = keyOf(request);
    if (token === undefined || key === undefined || request.auth === null) return;
    const rule = ruleOf(key, request.routeOptions.config);
    if (rule === undefined) return;
    const scoped = token.scopes.plans.length > 0 || token.scopes.sites.length > 0;
    const mutating = !READ_ONLY_METHODS.has(request.method);
    // An unscoped read needs nothing more than the role: no lookup on the status polls' path.
    if (!mutating && !scoped) return;
    const need: Need =
      rule.resolve === undefined
        ? { permission: rule.any[0] as Permission, resource: {} }
        : await rule.resolve(request, ctx);
    request.auth.need = need;
    if (!grants(token.role, need.permission)) {
      return refuse(
        request,
        reply,
        403,
        'FORBIDDEN',
        forbidden(token, describeNeed(need.permission, need.resource)),
      );
    }
    if (!scoped) return;
    const resource = need.permission === 'read' ? await readResource(ctx, need) : need.resource;
    // Reads of every execution, plan or site are not scoped: a scoped token sees the lists.
    if (need.permission === 'read' && resource.plan === undefined && resource.sites === undefined) return;
    const why = outOfScope(token.scopes, resource);
    if (why !== undefined) {
      return refuse(
        request,
        reply,
        403,
        'OUT_OF_SCOPE',
        `token ${token.id} (${token.owner}) may not ${describeNeed(need.permission, resource)}: ${why}`,
      );
    }
  });
}

function forbidden(token: TokenRecord, need: string): string {
  return `token ${token.id} (${token.owner}, role ${token.role}) lacks ${need}; ask an admin for a token with a role that has it`;
}
