/**
 * What the API writes to the audit log: each mutating call on a people route (accepted, refused or
 * failed) and each call refused by the gate (401/403, reads too), with who, the permission, the
 * route, the caller's IP, the execution and its epoch when there is one, and the outcome. The
 * agents' routes are not audited here (a heartbeat a second per site): their refusals are the
 * vault's to log (engine/control/vault).
 */
import type { FastifyRequest } from 'fastify';
import { isAgentRoute } from '../auth/hook.ts';
import { READ_ONLY_METHODS } from '../auth/route-rules.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { API_PREFIX } from '../context.ts';
import type { AuditInput } from './log.ts';

export function registerAuditHook(app: ControlApp, ctx: ControlContext): void {
  // What a mutating call answered: the execution it started (a submit's id and epoch).
  app.addHook('onSend', async (request, reply, payload) => {
    const auth = request.auth;
    if (auth === null || READ_ONLY_METHODS.has(request.method) || typeof payload !== 'string') return payload;
    if (reply.statusCode >= 400) {
      if (auth.problemCode === undefined) {
        const problem = parse(payload);
        if (typeof problem.code === 'string') auth.problemCode = problem.code;
        if (typeof problem.detail === 'string') auth.problemDetail = problem.detail;
      }
    } else if (auth.need !== undefined && auth.need.execution === undefined) {
      const body = parse(payload);
      if (typeof body.id === 'string') auth.need.execution = body.id;
      if (typeof body.epoch === 'number') auth.need.epoch = body.epoch;
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const entry = entryOf(request, reply.statusCode);
    if (entry === undefined) return;
    await ctx.audit?.append(entry).catch((error: unknown) => {
      request.log.error({ err: error, url: request.url }, 'could not append to the audit log');
    });
  });
}

function entryOf(request: FastifyRequest, status: number): AuditInput | undefined {
  const auth = request.auth;
  const route = request.routeOptions.url ?? request.url;
  if (auth === null || !route.startsWith(API_PREFIX)) return undefined;
  if (isAgentRoute(route)) return undefined;
  const refusedByGate = status === 401 || status === 403;
  if (READ_ONLY_METHODS.has(request.method) && !refusedByGate) return undefined;
  const need = auth.need;
  return {
    actor: auth.token?.owner ?? 'anonymous',
    ...(auth.token === undefined ? {} : { role: auth.token.role }),
    action: need?.permission ?? auth.action ?? (auth.token === undefined ? 'authenticate' : 'call'),
    route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
    ip: request.ip,
    ...(need?.execution === undefined || need.execution === '' ? {} : { execution: need.execution }),
    ...(need?.epoch === undefined ? {} : { epoch: need.epoch }),
    ...(need?.resource.plan === undefined ? {} : { plan: need.resource.plan }),
    outcome: status < 400 ? 'accepted' : status < 500 ? 'refused' : 'failed',
    status,
    ...(auth.problemCode === undefined ? {} : { code: auth.problemCode }),
    ...(auth.problemDetail === undefined ? {} : { detail: auth.problemDetail.slice(0, 500) }),
  };
}

function parse(payload: string): Record<string, unknown> {
  try {
    const value = JSON.parse(payload) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
