/**
 * What a scoped token sees in a list (issue 12's least privilege): the executions of its plans,
 * the plans it may act on, its sites (a plan-scoped token: the sites of its plans) and their
 * inventory; an unscoped token sees everything, as before. The gate (hook.ts) lets a list through
 * for any role that may read; each list route narrows its answer with this.
 */
import type { FastifyRequest } from 'fastify';
import { loadPlanSnapshot } from '../../executor/index.ts';
import type { ControlContext } from '../context.ts';
import { outOfScope, type Resource } from './roles.ts';
import { planResource } from './route-rules.ts';

export interface ListScope {
  plan(name: string): Promise<boolean>;
  execution(record: { id: string; planName: string }): Promise<boolean>;
  site(name: string): Promise<boolean>;
}

/** The scope of the request's token for lists; undefined: unscoped (everything is visible). */
export function listScopeOf(request: FastifyRequest, ctx: ControlContext): ListScope | undefined {
  const token = request.auth?.token;
  if (token === undefined || (token.scopes.plans.length === 0 && token.scopes.sites.length === 0))
    return undefined;
  const { scopes } = token;
  const plans = new Map<string, Promise<Resource>>();
  const resourceOfPlan = (name: string): Promise<Resource> => {
    let found = plans.get(name);
    if (found === undefined) {
      found = planResource(ctx, name);
      plans.set(name, found);
    }
    return found;
  };
  const planSites = async (): Promise<Set<string>> => {
    const all = await Promise.all(scopes.plans.map(resourceOfPlan));
    return new Set(all.flatMap((r) => r.sites ?? []));
  };
  let sitesOfPlans: Promise<Set<string>> | undefined;
  return {
    plan: async (name) => outOfScope(scopes, await resourceOfPlan(name)) === undefined,
    execution: async (record) => {
      const snapshot = await loadPlanSnapshot(ctx.redis, ctx.prefix, record.id).catch(() => undefined);
      const resource: Resource = {
        plan: record.planName,
        ...(snapshot === undefined ? {} : { sites: [snapshot.source, snapshot.target] }),
      };
      return outOfScope(scopes, resource) === undefined;
    },
    site: async (name) => {
      if (scopes.sites.length > 0) return scopes.sites.includes(name);
      sitesOfPlans ??= planSites();
      return (await sitesOfPlans).has(name);
    },
  };
}

/** `items` narrowed to what `keep` says, in order. */
export async function visible<T>(items: readonly T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const kept = await Promise.all(items.map(keep));
  return items.filter((_, i) => kept[i]);
}

/** `record` narrowed to the entries `keep` says, by key and value. */
export async function visibleEntries<T>(
  record: Readonly<Record<string, T>>,
  keep: (key: string, value: T) => Promise<boolean>,
): Promise<Record<string, T>> {
  const entries = Object.entries(record);
  const kept = await Promise.all(entries.map(([key, value]) => keep(key, value)));
  return Object.fromEntries(entries.filter((_, i) => kept[i]));
}
