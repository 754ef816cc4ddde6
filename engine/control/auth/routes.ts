/**
 * `/api/v1/tokens` (admins): create a token (shown once), list them (never their secrets), revoke
 * one. `/api/v1/audit` (admins): the audit log, and its verification.
 */
import { z } from 'zod';
import type { AuditLog } from '../audit/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { actorOf } from './hook.ts';
import { ROLES } from './roles.ts';
import { createToken, listTokens, revokeToken } from './tokens.ts';

const refused = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };
const Name = z.string().regex(/^[\w.-]{1,200}$/, 'a plan or site name');

export const TokenRecordSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    role: z.enum(ROLES),
    scopes: z.object({ plans: z.array(z.string()), sites: z.array(z.string()) }),
    createdAt: z.string(),
    createdBy: z.string(),
    expiresAt: z.string().optional(),
    revokedAt: z.string().optional(),
    revokedBy: z.string().optional(),
  })
  .meta({ id: 'TokenRecord' });

const AuditEntrySchema = z.looseObject({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  outcome: z.enum(['accepted', 'refused', 'failed']),
  prev: z.string(),
  hash: z.string(),
});

export function registerPeopleRoutes(app: ControlApp, ctx: ControlContext): void {
  app.post(
    '/tokens',
    {
      schema: {
        tags: ['people'],
        summary: 'Create an API token (the token is in this answer only; the vault keeps its hash)',
        body: z.strictObject({
          owner: z.string().regex(/^[\w.@+-]{1,100}$/, 'a name: letters, digits, . _ @ + -'),
          role: z.enum(ROLES),
          scopes: z
            .strictObject({
              plans: z.array(Name).max(100).default([]),
              sites: z.array(Name).max(100).default([]),
            })
            .optional(),
          expiresInMs: z
            .number()
            .int()
            .positive()
            .max(3 * 365 * 86_400_000)
            .optional(),
        }),
        response: { 201: z.object({ token: z.string(), record: TokenRecordSchema }), ...refused },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await createToken(ctx.redis, ctx.prefix, {
        owner: body.owner,
        role: body.role,
        createdBy: actorOf(request),
        ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
        ...(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs }),
      });
      return reply.code(201).send(created);
    },
  );
  app.get(
    '/tokens',
    {
      schema: {
        tags: ['people'],
        summary: 'Every token the vault issued, revoked ones too (never a secret)',
        response: { 200: z.object({ tokens: z.array(TokenRecordSchema) }), ...refused },
      },
    },
    async () => ({ tokens: await listTokens(ctx.redis, ctx.prefix) }),
  );
  app.post(
    '/tokens/:id/revoke',
    {
      schema: {
        tags: ['people'],
        summary: 'Revoke a token: refused from its next request on',
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: TokenRecordSchema, ...refused },
      },
    },
    async (request) => await revokeToken(ctx.redis, ctx.prefix, request.params.id, actorOf(request)),
  );
  app.get(
    '/audit',
    {
      schema: {
        tags: ['people'],
        summary:
          'The audit log, oldest first, a page at a time (follow `next` as `after`); with verify=true, whether its hash chain and signed head hold',
        querystring: z.object({
          since: z.iso.datetime({ offset: true }).optional(),
          after: z
            .string()
            .regex(/^\d{1,20}-\d{1,20}$/)
            .optional()
            .describe("a page's `next`: the entries after it"),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
          verify: z.stringbool().default(false),
        }),
        response: {
          200: z.object({
            entries: z.array(AuditEntrySchema),
            next: z
              .string()
              .optional()
              .describe('the cursor of the next page (as `after`); absent on the last'),
            verdict: z
              .object({
                ok: z.boolean(),
                entries: z.number().int(),
                seq: z.number().int().optional(),
                problem: z.string().optional(),
              })
              .optional(),
          }),
          ...refused,
        },
      },
    },
    async (request) => {
      const { since, after, limit, verify } = request.query;
      const log = auditOf(ctx);
      const page = await log.page({
        ...(since === undefined ? {} : { since: new Date(since) }),
        ...(after === undefined ? {} : { after }),
        limit,
      });
      const entries = page.entries.map((entry) => ({ ...entry }));
      const next = page.next === undefined ? {} : { next: page.next };
      if (!verify) return { entries, ...next };
      const verdict = await log.verify();
      return {
        entries,
        ...next,
        verdict: verdict.ok
          ? { ok: true, entries: verdict.entries }
          : {
              ok: false,
              entries: verdict.entries,
              problem: verdict.problem,
              ...(verdict.seq === undefined ? {} : { seq: verdict.seq }),
            },
      };
    },
  );
}

function auditOf(ctx: ControlContext): AuditLog {
  if (ctx.audit === undefined) throw new Error('the control app was built without its audit log');
  return ctx.audit;
}
