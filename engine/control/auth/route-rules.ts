/**
 * The permission each people route needs, in one table keyed by `METHOD /api/v1/route`. A route
 * under `/api/v1` that is in neither this table nor the agents' prefix is refused to everyone
 * (403 NO_RULE): a new route is closed until someone says who may call it.
 *
 * `any` is what the call may need at most (checked before the body is read: a viewer's POST is
 * refused before anything is parsed); `resolve` says what it needs exactly, from the parsed
 * request (a drill's approval is `drill:approve`, a failover's `failover:approve`), and what it
 * acts on, for the token's scopes and the audit log.
 */
import type { FastifyRequest } from 'fastify';
import { DrError } from '../../common/index.ts';
import { loadExecution, loadPlanSnapshot } from '../../executor/index.ts';
import { parsePlan } from '../../plan/index.ts';
import type { ControlContext } from '../context.ts';
import { createPlanReader, latestPlanVersion } from '../plans/store.ts';
import type { Permission, Resource } from './roles.ts';

export interface Need {
  permission: Permission;
  resource: Resource;
  execution?: string;
  epoch?: number;
}

export interface RouteRule {
  any: readonly Permission[];
  resolve?: (request: FastifyRequest, ctx: ControlContext) => Promise<Need>;
}

type Params = Record<string, string | undefined>;
type Body = Record<string, unknown>;
const paramsOf = (request: FastifyRequest): Params => (request.params ?? {}) as Params;
const bodyOf = (request: FastifyRequest): Body => (request.body ?? {}) as Body;

const DRILL_TYPES = new Set(['test', 'cleanup']);

/** An execution's plan, sites and epoch; an execution that is not there is the route's own 404. */
async function onExecution(
  request: FastifyRequest,
  ctx: ControlContext,
  permission: (type: string) => Permission,
): Promise<Need> {
  const id = paramsOf(request).id ?? '';
  const found = await loadExecution(ctx.redis, ctx.prefix, id).catch((error: unknown) => {
    if (error instanceof DrError && error.code === 'EXECUTION_NOT_FOUND') return undefined;
    throw error;
  });
  // Not there: the stricter permission, on nothing named; the route answers its own refusal.
  if (found === undefined) return { permission: permission('unknown'), resource: {}, execution: id };
  const { record } = found;
  const plan = await loadPlanSnapshot(ctx.redis, ctx.prefix, id).catch(() => undefined);
  return {
    permission: permission(record.type),
    resource: {
      plan: record.planName,
      ...(plan === undefined ? {} : { sites: [plan.source, plan.target] }),
    },
    execution: id,
    epoch: record.epoch,
  };
}

/** A stored plan's sites (its newest version, or the one named); none when it is not stored. */
export async function planResource(ctx: ControlContext, name: string, hash?: string): Promise<Resource> {
  try {
    const version = hash ?? (await latestPlanVersion(ctx.redis, ctx.prefix, name)).hash;
    const plan = await createPlanReader(ctx.redis, ctx.prefix)(name, version);
    return { plan: name, sites: [plan.source, plan.target] };
  } catch (error) {
    if (error instanceof DrError) return { plan: name };
    throw error;
  }
}

const drillOr = (drill: Permission, failover: Permission) => (type: string) =>
  DRILL_TYPES.has(type) ? drill : failover;

const fixed = (permission: Permission): RouteRule => ({ any: [permission] });
const onId = (permission: Permission): RouteRule => ({
  any: [permission],
  resolve: (request, ctx) => onExecution(request, ctx, () => permission),
});
const readExecution: RouteRule = {
  any: ['read'],
  resolve: async (request) => ({
    permission: 'read',
    // A read's plan is checked only for a scoped token (hook.ts), by the same lookup.
    resource: {},
    execution: paramsOf(request).id ?? '',
  }),
};
const onPlanName = (permission: Permission): RouteRule => ({
  any: [permission],
  resolve: async (request, ctx) => ({
    permission,
    resource: await planResource(ctx, paramsOf(request).name ?? ''),
  }),
});
const onSite = (permission: Permission): RouteRule => ({
  any: [permission],
  resolve: async (request) => ({ permission, resource: { sites: [paramsOf(request).site ?? ''] } }),
});
const submitLike: RouteRule = {
  any: ['drill:submit', 'failover:submit'],
  resolve: async (request, ctx) => {
    const body = bodyOf(request);
    const plan = (body.plan ?? {}) as { name?: string; hash?: string };
    return {
      permission: body.type === 'test' ? 'drill:submit' : 'failover:submit',
      resource: await planResource(ctx, plan.name ?? '', plan.hash),
    };
  },
};
const stepCommand: RouteRule = {
  any: ['drill:step', 'failover:step'],
  resolve: (request, ctx) => onExecution(request, ctx, drillOr('drill:step', 'failover:step')),
};
const approval: RouteRule = {
  any: ['drill:approve', 'failover:approve'],
  resolve: (request, ctx) => onExecution(request, ctx, drillOr('drill:approve', 'failover:approve')),
};

const API = '/api/v1';

/** Methods that change nothing: not audited unless refused. */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const ROUTE_RULES: Readonly<Record<string, RouteRule>> = {
  // plans
  [`POST ${API}/plans`]: fixed('plan:write'),
  [`GET ${API}/plans`]: fixed('read'),
  [`GET ${API}/plans/:name`]: onPlanName('read'),
  [`GET ${API}/plans/:name/versions`]: onPlanName('read'),
  [`GET ${API}/plans/:name/versions/:hash`]: onPlanName('read'),
  [`GET ${API}/plans/:name/graph`]: onPlanName('read'),
  // executions
  [`POST ${API}/executions::preflight`]: submitLike,
  [`POST ${API}/executions`]: submitLike,
  [`GET ${API}/executions`]: fixed('read'),
  [`GET ${API}/executions/:id`]: readExecution,
  [`GET ${API}/executions/:id/waits`]: readExecution,
  [`GET ${API}/executions/:id/events`]: readExecution,
  [`GET ${API}/executions/:id/lifecycle`]: readExecution,
  [`GET ${API}/executions/:id/lifecycle/view`]: readExecution,
  [`GET ${API}/executions/:id/lifecycle/events`]: readExecution,
  [`GET ${API}/executions/:id/protect`]: readExecution,
  // the dashboard (routes/execution-vms.ts, routes/stream.ts)
  [`GET ${API}/executions/:id/vms`]: readExecution,
  [`GET ${API}/stream`]: fixed('read'),
  // reports (routes/reports.ts, on main since this branch began: the rule is ready for the merge)
  [`GET ${API}/executions/:id/report`]: readExecution,
  [`GET ${API}/executions/:id/reports/:sha256`]: readExecution,
  [`GET ${API}/plans/:name/drills`]: onPlanName('read'),
  [`POST ${API}/executions/:id/approvals`]: approval,
  [`POST ${API}/executions/:id/steps/:step/approve`]: approval,
  [`POST ${API}/executions/:id/steps/:step/retry`]: stepCommand,
  [`POST ${API}/executions/:id/steps/:step/skip`]: stepCommand,
  [`POST ${API}/executions/:id/steps/:step/done`]: stepCommand,
  [`POST ${API}/executions/:id/cleanup`]: onId('drill:cleanup'),
  // a failover's lifecycle
  [`POST ${API}/executions/:id/commit`]: onId('failover:commit'),
  [`POST ${API}/executions/:id/change-point`]: onId('failover:change-point'),
  [`POST ${API}/executions/:id/cancel`]: onId('failover:cancel'),
  [`POST ${API}/executions/:id/reprotect`]: onId('failover:reprotect'),
  [`POST ${API}/executions/:id/failback`]: onId('failover:failback'),
  [`POST ${API}/plans/:name/reprotect`]: onPlanName('failover:reprotect'),
  [`POST ${API}/plans/:name/failback`]: onPlanName('failover:failback'),
  // the sites' state
  [`GET ${API}/sites`]: fixed('read'),
  [`GET ${API}/inventory`]: fixed('read'),
  [`GET ${API}/history`]: fixed('read'),
  // a plan named is checked here; the list of every lock is narrowed by the route (visible.ts)
  [`GET ${API}/locks`]: {
    any: ['read'],
    resolve: async (request, ctx) => {
      const plan = ((request.query ?? {}) as Params).plan;
      return { permission: 'read', resource: plan === undefined ? {} : await planResource(ctx, plan) };
    },
  },
  [`POST ${API}/locks/release`]: {
    any: ['lock:release'],
    resolve: async (request) => {
      const plan = bodyOf(request).plan;
      return { permission: 'lock:release', resource: typeof plan === 'string' ? { plan } : {} };
    },
  },
  [`POST ${API}/protections`]: {
    any: ['protect:submit'],
    resolve: async (request) => {
      const body = bodyOf(request);
      const parsed = parsePlan(String(body.text ?? ''), String(body.file ?? 'plan.yaml'));
      return {
        permission: 'protect:submit',
        resource: parsed.ok
          ? { plan: parsed.plan.metadata.name, sites: [parsed.plan.source, parsed.plan.target] }
          : {},
      };
    },
  },
  // people
  [`POST ${API}/tokens`]: fixed('token:manage'),
  [`GET ${API}/tokens`]: fixed('token:manage'),
  [`POST ${API}/tokens/:id/revoke`]: fixed('token:manage'),
  [`GET ${API}/audit`]: fixed('audit:read'),
  // webhook notifications (notify/routes.ts): their subscriptions hold secrets
  [`POST ${API}/notifications`]: fixed('notify:manage'),
  [`GET ${API}/notifications`]: fixed('notify:manage'),
  [`DELETE ${API}/notifications/:id`]: fixed('notify:manage'),
  [`POST ${API}/notifications/:id/test`]: fixed('notify:manage'),
  // automatic failover (auto/): an admin arms, disarms, drills and sets maintenance; an operator
  // (who may cancel a failover) may veto one before it starts
  [`GET ${API}/auto`]: fixed('read'),
  [`POST ${API}/auto/plans/:name/arm`]: onPlanName('automatic-failover:manage'),
  [`POST ${API}/auto/plans/:name/disarm`]: onPlanName('automatic-failover:manage'),
  [`POST ${API}/auto/plans/:name/drill`]: onPlanName('automatic-failover:manage'),
  [`POST ${API}/auto/plans/:name/veto`]: onPlanName('failover:cancel'),
  [`POST ${API}/sites/:site/maintenance`]: onSite('site:manage'),
  [`DELETE ${API}/sites/:site/maintenance`]: onSite('site:manage'),
};

/** The execution a read names, resolved for a scoped token's check. */
export async function readResource(ctx: ControlContext, need: Need): Promise<Resource> {
  if (need.execution === undefined || need.execution === '') return need.resource;
  const { record } = await loadExecution(ctx.redis, ctx.prefix, need.execution);
  const plan = await loadPlanSnapshot(ctx.redis, ctx.prefix, need.execution).catch(() => undefined);
  return { plan: record.planName, ...(plan === undefined ? {} : { sites: [plan.source, plan.target] }) };
}
