/**
 * `GET /api/v1/plans/:name/graph`: a stored plan compiled (engine/plan compilePlan, as `drctl plan
 * show` does) into what the dashboard draws: every step as a node with its wave and estimate, the
 * dependency edges, the critical path, and the estimated RTO beside the sequential-groups RTO
 * (the same plan run as ASR/SRM's strictly ordered groups). The layout is the page's (a Web Worker).
 */
import { z } from 'zod';
import { type CompiledPlan, compilePlan } from '../../plan/index.ts';
import type { PlanStep } from '../../plan/types.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { createPlanReader, latestPlanVersion } from '../plans/store.ts';
import { ProblemSchema } from '../problem.ts';
import { asBuilt } from './as-built.ts';
import { PlanHashSchema, PlanNameSchema } from './schemas.ts';

const STEP_KINDS = [
  'action',
  'fence',
  'shutdown',
  'failover',
  'boot',
  'readiness',
  'barrier',
  'return',
] as const;

export const PlanGraphSchema = z
  .object({
    plan: z.string(),
    hash: z.string(),
    type: z.enum(['test', 'planned', 'unplanned']),
    direction: z.enum(['forward', 'failback']),
    nodes: z.array(
      z.object({
        id: z.string().describe('the step id (`<vm>/<kind>`, `action/<name>`, `barrier/…`)'),
        kind: z.enum(STEP_KINDS),
        label: z.string(),
        vm: z.string().optional(),
        site: z.string(),
        wave: z.number().int().describe('topological level: the steps of a wave may run at once'),
        estimateMs: z.number(),
      }),
    ),
    edges: z.array(z.object({ from: z.string(), to: z.string() }).describe('`to` waits for `from`')),
    criticalPath: z.array(z.string()).describe('the longest chain of estimates, step ids in order'),
    estimatedRtoMs: z.number().describe('the dependency graph (simulated plan time)'),
    sequentialGroupsRtoMs: z.number().describe('the same plan as strictly ordered groups (ASR/SRM)'),
  })
  .meta({ id: 'PlanGraph' });
export type PlanGraph = z.infer<typeof PlanGraphSchema>;

const GraphQuery = z.object({
  type: z.enum(['test', 'planned', 'unplanned']).default('test').describe('the run the graph is for'),
  direction: z.enum(['forward', 'failback']).default('forward'),
  hash: PlanHashSchema.optional().describe('a stored version; default the newest'),
});

function labelOf(step: PlanStep): string {
  if (step.vm !== undefined) return `${step.vm} ${step.kind}`;
  if (step.action !== undefined) return step.action;
  return step.id;
}

/** The compiled plan as nodes and edges (pure). */
export function planGraph(compiled: CompiledPlan, plan: string, hash: string): PlanGraph {
  const waveOf = new Map<string, number>();
  compiled.waves.forEach((wave, i) => {
    for (const id of wave) waveOf.set(id, i);
  });
  const nodes: PlanGraph['nodes'] = [];
  const edges: PlanGraph['edges'] = [];
  for (const step of compiled.steps.values()) {
    nodes.push({
      id: step.id,
      kind: step.kind,
      label: labelOf(step),
      ...(step.vm === undefined ? {} : { vm: step.vm }),
      site: step.site,
      wave: waveOf.get(step.id) ?? 0,
      estimateMs: step.estimateMs,
    });
    for (const from of step.after) edges.push({ from, to: step.id });
  }
  nodes.sort((a, b) => a.wave - b.wave || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    plan,
    hash,
    type: compiled.type,
    direction: compiled.direction,
    nodes,
    edges,
    criticalPath: compiled.criticalPath.steps,
    estimatedRtoMs: compiled.estimate.rtoMs,
    sequentialGroupsRtoMs: compiled.estimate.sequentialGroupsRtoMs,
  };
}

/** Graphs answered lately (a version's graph never changes): a 10,000-VM plan compiles once. */
const CACHE = 8;

export function registerPlanGraphRoutes(app: ControlApp, ctx: ControlContext): void {
  const readPlan = createPlanReader(ctx.redis, ctx.prefix);
  const cache = new Map<string, PlanGraph>();
  app.get(
    '/plans/:name/graph',
    {
      ...asBuilt,
      schema: {
        tags: ['plans'],
        summary: "A plan's step graph as the dashboard draws it: waves, edges, critical path, RTO estimates",
        params: z.object({ name: PlanNameSchema }),
        querystring: GraphQuery,
        response: { 200: PlanGraphSchema, 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      const { name } = request.params;
      const { type, direction } = request.query;
      const hash = request.query.hash ?? (await latestPlanVersion(ctx.redis, ctx.prefix, name)).hash;
      const key = `${name}\n${hash}\n${type}\n${direction}`;
      let body = cache.get(key);
      if (body === undefined) {
        const plan = await readPlan(name, hash);
        body = planGraph(compilePlan(plan, { type, direction }), name, hash);
        if (cache.size >= CACHE) cache.delete(cache.keys().next().value ?? '');
        cache.set(key, body);
      }
      return body;
    },
  );
}
