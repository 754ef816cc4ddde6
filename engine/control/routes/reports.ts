/**
 * Exercise reports (engine/report): `GET /executions/:id/report` (HTML with `Accept: text/html` or
 * `?format=html`, else JSON; the body's SHA-256 is recorded with the execution and sent as
 * `X-Report-SHA256`), `GET /executions/:id/reports/:sha256` (was a report with this hash
 * generated?), and `GET /plans/:name/drills` (achieved RTO and RPO across the plan's drills).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  checkReportHash,
  drillHistory,
  drillHistorySchema,
  executionReportSchema,
  generateReport,
  type ReportFormat,
  renderHistory,
} from '../../report/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { createStoredTargets } from '../plans/store.ts';
import { ProblemSchema } from '../problem.ts';
import { ExecutionIdParams } from './schemas.ts';

/** The header carrying a generated report's SHA-256. */
export const REPORT_HASH_HEADER = 'x-report-sha256';

const FormatQuery = z.object({
  format: z
    .enum(['html', 'json'])
    .optional()
    .describe('html or json; without it, Accept: text/html gives HTML and anything else JSON'),
});

const HistoryQuery = FormatQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('the newest this many drills'),
});

const VerificationSchema = z
  .object({
    execution: z.string(),
    sha256: z.string(),
    matches: z.boolean().describe('a report with exactly this hash was generated of the execution'),
    recorded: z.object({ generatedAt: z.string(), format: z.enum(['html', 'json']) }).optional(),
  })
  .meta({ id: 'ReportVerification' });

const html = z.string().describe('one self-contained HTML file (inline CSS and SVG, nothing fetched)');

function formatOf(query: ReportFormat | undefined, accept: string | undefined): ReportFormat {
  if (query !== undefined) return query;
  return accept?.includes('text/html') === true ? 'html' : 'json';
}

function send(reply: FastifyReply, format: ReportFormat, body: string): FastifyReply {
  return reply
    .type(format === 'html' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8')
    .send(body);
}

export function registerReportRoutes(app: ControlApp, ctx: ControlContext): void {
  app.get(
    '/executions/:id/report',
    {
      // The body is sent as the bytes whose hash was recorded: never re-serialized.
      serializerCompiler: () => (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data)),
      schema: {
        tags: ['reports'],
        summary: "An execution's exercise report (SOC 2 A1.3, ISO 22301 8.5 evidence), HTML or JSON",
        description: `Computed from the execution's record and event log. The body's SHA-256 is recorded with the execution and sent in ${REPORT_HASH_HEADER}.`,
        params: ExecutionIdParams,
        querystring: FormatQuery,
        headers: z.object({ accept: z.string().optional() }),
        response: {
          200: {
            content: {
              'application/json': { schema: executionReportSchema },
              'text/html': { schema: html },
            },
          },
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const format = formatOf(request.query.format, request.headers.accept);
      const generated = await generateReport(ctx.redis, ctx.prefix, request.params.id, format);
      reply.header(REPORT_HASH_HEADER, generated.sha256);
      return send(reply, format, generated.body);
    },
  );

  app.get(
    '/executions/:id/reports/:sha256',
    {
      schema: {
        tags: ['reports'],
        summary: 'Whether a report file with this SHA-256 was generated of the execution',
        params: ExecutionIdParams.extend({
          sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex (64 digits)'),
        }),
        response: { 200: VerificationSchema, 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => await checkReportHash(ctx.redis, ctx.prefix, request.params.id, request.params.sha256),
  );

  // A stored plan never drilled has an empty history; only a plan the vault does not know is a 404.
  const storedTargets = createStoredTargets(ctx.redis, ctx.prefix);
  app.get(
    '/plans/:name/drills',
    {
      serializerCompiler: () => (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data)),
      schema: {
        tags: ['reports'],
        summary: "Achieved RTO and data-loss window across a plan's drills, against its targets",
        params: z.object({ name: z.string().min(1).max(200) }),
        querystring: HistoryQuery,
        headers: z.object({ accept: z.string().optional() }),
        response: {
          200: {
            content: {
              'application/json': { schema: drillHistorySchema },
              'text/html': { schema: html },
            },
          },
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const format = formatOf(request.query.format, request.headers.accept);
      const history = await drillHistory(ctx.redis, ctx.prefix, request.params.name, {
        limit: request.query.limit,
        stored: storedTargets,
      });
      return send(reply, format, renderHistory(history, format));
    },
  );
}
