/**
 * Errors as `application/problem+json` (RFC 9457), carrying the same stable codes the CLI prints.
 * A DrError says its own status through its code and exit code; anything else is a 500 whose body
 * says only where the details are (the control plane's log), never a stack.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DrError } from '../common/index.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The problem document every error response of the API carries (in the OpenAPI document too). */
export const ProblemSchema = z
  .object({
    type: z.string().describe('urn:drorch:error:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('what was wrong, where, and what to do'),
    code: z.string().describe('the stable error code the CLI prints'),
    retryable: z.boolean(),
    instance: z.string().optional(),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('for a request that does not match its schema: each field and what is wrong with it'),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

/** Error codes that name something that is not there: 404. */
const NOT_FOUND = /(^|_)(NOT_FOUND|UNKNOWN_[A-Z]+|NO_SUCH_[A-Z]+)$/;

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Unavailable',
};

/** A DrError's HTTP status: its `details.status` when it names one, else from its code and kind. */
export function statusOf(error: DrError): number {
  const named = error.details.status;
  if (typeof named === 'number' && named >= 400 && named < 600) return named;
  if (NOT_FOUND.test(error.code)) return 404;
  if (error.exitCode === 2) return 400;
  if (error.retryable) return 503;
  // A refused operation: the engine's state does not allow it now (blocked pre-flight, lock taken).
  return 409;
}

export function problemOf(error: DrError, instance?: string): Problem {
  const status = statusOf(error);
  const { status: _status, ...details } = error.details;
  const located = locatedIssues(details.issues);
  return {
    type: `urn:drorch:error:${error.code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: error.message,
    code: error.code,
    retryable: error.retryable,
    ...(instance === undefined ? {} : { instance }),
    ...(located === undefined ? {} : { issues: located }),
    ...(Object.keys(details).length === 0 ? {} : { details }),
  };
}

/**
 * Issues located in a file (a plan's, engine/plan PlanIssue) as the problem's `issues`: the path is
 * `file:line:column`, the message the line `drctl validate` prints; the full issues stay in details.
 */
function locatedIssues(value: unknown): Problem['issues'] {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const issues: NonNullable<Problem['issues']> = [];
  for (const issue of value as Array<Record<string, unknown>>) {
    const { file, line, column, message, severity, path, hint } = issue ?? {};
    if (typeof file !== 'string' || typeof line !== 'number' || typeof column !== 'number') return undefined;
    const at = typeof path === 'string' && path !== '' ? ` [${path}]` : '';
    const why = typeof hint === 'string' ? ` (${hint})` : '';
    issues.push({
      path: `${file}:${line}:${column}`,
      message: `${String(severity ?? 'error')}: ${String(message)}${at}${why}`,
    });
  }
  return issues;
}

/** Fastify's own errors (body too large, bad JSON, wrong content type, schema mismatch) as problems. */
export function requestProblem(error: FastifyError, request: FastifyRequest): Problem {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((issue) => ({
      path: `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}`,
      message: issue.message ?? 'invalid',
    }));
    const first = issues[0];
    return {
      ...problemOf(
        new DrError(
          'BAD_REQUEST',
          `the request does not match its schema${first ? `: ${first.path}: ${first.message}` : ''}`,
          { exitCode: 2 },
        ),
        request.url,
      ),
      issues,
    };
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
  const code =
    status === 413
      ? 'BODY_TOO_LARGE'
      : status === 415
        ? 'UNSUPPORTED_MEDIA_TYPE'
        : status === 404
          ? 'NOT_FOUND'
          : status < 500
            ? 'BAD_REQUEST'
            : 'INTERNAL';
  const detail =
    status >= 500
      ? `internal error (request ${request.id}); the control plane's log has the details`
      : error.message;
  return {
    type: `urn:drorch:error:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    retryable: status >= 500,
    instance: request.url,
  };
}

/** Send `problem` with its status and content type. */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** A DrError thrown by a route, or anything else (logged, 500). */
export function errorProblem(error: unknown, request: FastifyRequest): Problem {
  if (error instanceof DrError) return problemOf(error, request.url);
  return requestProblem(error as FastifyError, request);
}
