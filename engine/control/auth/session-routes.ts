/**
 * `/api/v1/session`: the dashboard's sign-in (session.ts). POST trades a token for a session
 * cookie and the CSRF value the page sends on every change; GET tells a reloaded page who it is
 * (and the CSRF value again); DELETE signs out. Sign-ins, accepted or refused, are audited.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { ROLES } from './roles.ts';
import { checkSession, createSession, deleteSession, SESSION_COOKIE } from './session.ts';
import { checkToken, type TokenRecord } from './tokens.ts';

export const SessionSchema = z
  .object({
    actor: z.string().describe("the token's owner"),
    role: z.enum(ROLES),
    scopes: z.object({ plans: z.array(z.string()), sites: z.array(z.string()) }),
    csrf: z.string().describe('send as X-CSRF-Token on every POST/PUT/PATCH/DELETE made with the cookie'),
    expiresAt: z.string().describe('the session ends then (no later than its token)'),
  })
  .meta({ id: 'Session' });

const refused = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema };

const sessionOf = (token: TokenRecord, csrf: string, expiresAt: string): z.infer<typeof SessionSchema> => ({
  actor: token.owner,
  role: token.role,
  scopes: token.scopes,
  csrf,
  expiresAt,
});

const noSession = (): DrError =>
  new DrError(
    'SESSION_UNKNOWN',
    'no dashboard session: sign in with POST /api/v1/session { "token": "drt_…" }',
    {
      details: { status: 401 },
    },
  );

function clear(reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
}

export function registerSessionRoutes(app: ControlApp, ctx: ControlContext): void {
  app.post(
    '/session',
    {
      // The gate lets the sign-in through (hook.ts): the body's token is its credential.
      config: { permission: 'read' },
      schema: {
        tags: ['people'],
        summary: 'Sign in to the dashboard: a token for an HttpOnly session cookie and a CSRF value',
        description:
          'Sets `drctl_session` (HttpOnly, SameSite=Strict, Secure, Path=/). The session ends no later than the token, and when the token is revoked. Every change made with the cookie needs `X-CSRF-Token`.',
        security: [],
        body: z.strictObject({ token: z.string().max(200) }),
        response: { 200: SessionSchema, ...refused },
      },
    },
    async (request, reply) => {
      request.auth = { action: 'session:create' };
      const check = await checkToken(ctx.redis, ctx.prefix, request.body.token);
      if (!check.ok) throw new DrError(check.code, check.detail, { details: { status: 401 } });
      request.auth.token = check.record;
      const session = await createSession(ctx.redis, ctx.prefix, check.record);
      const maxAge = Math.max(1, Math.floor((Date.parse(session.expiresAt) - Date.now()) / 1000));
      void reply.setCookie(SESSION_COOKIE, session.cookie, {
        path: '/',
        httpOnly: true,
        secure: true,
        sameSite: 'strict',
        maxAge,
      });
      return sessionOf(check.record, session.csrf, session.expiresAt);
    },
  );
  app.get(
    '/session',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['people'],
        summary: 'Who this dashboard session is, and its CSRF value (for a reloaded page)',
        response: { 200: SessionSchema, ...refused },
      },
    },
    async (request) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie === undefined) throw noSession();
      const session = await checkSession(ctx.redis, ctx.prefix, cookie);
      if (!session.ok) throw new DrError(session.code, session.detail, { details: { status: 401 } });
      return sessionOf(session.token, session.csrf, session.expiresAt);
    },
  );
  app.delete(
    '/session',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['people'],
        summary: 'Sign out: the session is deleted and its cookie cleared',
        response: { 204: z.null().describe('signed out'), ...refused },
      },
    },
    async (request, reply) => {
      request.auth = { ...request.auth, action: 'session:delete' };
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie !== undefined) await deleteSession(ctx.redis, ctx.prefix, cookie);
      clear(reply);
      return reply.code(204).send(null);
    },
  );
}
