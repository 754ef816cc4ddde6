/**
 * The inventory's routes: agents post batches, people and the dashboard read the result, agents
 * poll for refresh requests. A refused batch is a problem+json 4xx counted by the app's error
 * handler (drorch_requests_refused_total): bad shape 400, too large 413, out of sequence 409, a
 * poster without the site's live agent session (the `X-Agent-Session` header its hello gave) 403
 * or 409, as on the other agent routes.
 */
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import { AGENT_SESSION_HEADER } from '../../contract/index.ts';
import { NAME_PATTERN } from '../../plan/index.ts';
import { agentHubOf } from '../agents/index.ts';
import { listScopeOf, visible } from '../auth/index.ts';
import type { ControlRoutes } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { type InventorySample, samplesOf } from './samples.ts';
import { createInventoryStore } from './store.ts';
import { InventoryQuerySchema, InventoryViewSchema, inventoryView } from './view.ts';
import { BatchAnswerSchema, INVENTORY_BODY_LIMIT, InventoryBatchSchema } from './wire.ts';

export interface InventoryRoutesOptions {
  /**
   * Called with every applied batch's samples (per VM: RPO and health as the agent measured them):
   * where the inventory history (engine/control/history) is fed. A failure is logged; the batch
   * stays applied.
   */
  onSamples?: (samples: InventorySample[]) => Promise<unknown>;
  /** Longest `waitMs` of a refresh poll. @defaultValue 25_000 */
  maxPollMs?: number;
  /** Control plane's clock, ms. @defaultValue Date.now */
  clock?: () => number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const SiteParams = z.strictObject({
  site: z.string().regex(new RegExp(NAME_PATTERN), { error: 'not a site name' }),
});
const SessionHeaders = z.looseObject({
  [AGENT_SESSION_HEADER]: z
    .string()
    .optional()
    .describe("the session the agent's hello opened (POST /api/v1/agents/{site}/hello)"),
});

const RefreshAnswerSchema = z.object({
  refresh: z.boolean().describe('pre-flight asked for a fresh inventory: sweep now (reporter.refreshNow())'),
  askedAt: z.string().optional(),
});

export function inventoryRoutes(options: InventoryRoutesOptions = {}): ControlRoutes {
  const clock = options.clock ?? Date.now;
  const maxPollMs = options.maxPollMs ?? 25_000;
  return (app, ctx) => {
    const store = createInventoryStore(ctx.redis, ctx.prefix);
    // Each applied batch feeds the vault's history (5-minute buckets on the control plane's
    // clock: a simulated site's hours run faster than the wall's).
    const history = ctx.history;
    const onSamples =
      options.onSamples ??
      (history === undefined
        ? undefined
        : (samples: InventorySample[]) =>
            history.record(
              samples.map((sample) => ({
                vm: sample.vm,
                site: sample.site,
                at: sample.receivedAt,
                rpoSec: sample.rpoSec,
                health: sample.health,
              })),
            ));
    const refused = { 400: ProblemSchema, 403: ProblemSchema, 409: ProblemSchema, 413: ProblemSchema };
    // A closing control plane answers waiting refresh polls at once: a poll left waiting would
    // read Redis after the vault closed and hold the process for up to its `waitMs`.
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });

    app.post(
      '/agents/:site/inventory',
      {
        bodyLimit: INVENTORY_BODY_LIMIT,
        schema: {
          summary: "A site agent's inventory batch (full, in parts, or changes)",
          tags: ['inventory'],
          params: SiteParams,
          headers: SessionHeaders,
          body: InventoryBatchSchema,
          response: { 200: BatchAnswerSchema, ...refused },
        },
      },
      async (request) => {
        const { site } = request.params;
        const session = request.headers[AGENT_SESSION_HEADER];
        if (session === undefined || session === '') {
          throw new DrError(
            'AGENT_SESSION_REQUIRED',
            `an inventory of site ${site} comes from its agent only: say hello (POST /api/v1/agents/${site}/hello) and send the session it gives in the X-Agent-Session header`,
            { details: { status: 403, site } },
          );
        }
        // Not the site's current session: 409 UNKNOWN_SESSION (say hello again) or AGENT_REPLACED.
        await agentHubOf(ctx).sessions.touch(site, session);
        const receivedAt = clock();
        const answer = await store.apply(site, request.body, receivedAt);
        if (answer.applied && (onSamples !== undefined || ctx.notifications !== undefined)) {
          const samples = samplesOf(site, request.body, receivedAt);
          if (samples.length > 0 && onSamples !== undefined)
            await onSamples(samples).catch((error: unknown) =>
              request.log.warn({ err: error, site }, 'inventory history not fed'),
            );
          // Health into Critical, RPO beyond a plan's target: notified on the change (notify/).
          if (samples.length > 0 && ctx.notifications !== undefined)
            await ctx.notifications.inventory
              .samples(samples)
              .catch((error: unknown) => request.log.warn({ err: error, site }, 'inventory not watched'));
        }
        return answer;
      },
    );

    app.get(
      '/agents/:site/inventory/refresh',
      {
        schema: {
          summary: 'Long poll: has pre-flight asked this site for a fresh inventory?',
          tags: ['inventory'],
          params: SiteParams,
          querystring: z.strictObject({ waitMs: z.coerce.number().int().min(0).max(maxPollMs).default(0) }),
          response: { 200: RefreshAnswerSchema, 400: ProblemSchema },
        },
      },
      async (request, reply) => {
        const deadline = clock() + request.query.waitMs;
        // An agent that went away (it stopped, or the control plane is closing) ends its poll: the
        // loop would read Redis until the deadline, past the close of the connection to it.
        const gone = new AbortController();
        reply.raw.once('close', () => gone.abort());
        try {
          for (;;) {
            // Before the read: the vault's Redis goes away soon after the close began.
            if (closing) return { refresh: false };
            // The flag alone, ten times a second per agent: the site's meta carries its hosts' JSON.
            const askedAt = await store.refreshAskedAt(request.params.site);
            if (askedAt !== undefined) return { refresh: true, askedAt: new Date(askedAt).toISOString() };
            if (gone.signal.aborted || clock() >= deadline) return { refresh: false };
            await sleep(100, gone.signal);
            if (gone.signal.aborted) return { refresh: false };
          }
        } finally {
          gone.abort();
        }
      },
    );

    app.get(
      '/inventory',
      {
        schema: {
          summary: 'VMs the vault knows, with replication state, health, RPO and recovery points',
          tags: ['inventory'],
          querystring: InventoryQuerySchema,
          response: { 200: InventoryViewSchema, 400: ProblemSchema },
        },
      },
      async (request) => {
        const view = await inventoryView(store, request.query, clock);
        // A scoped token sees its sites' VMs only.
        const scope = listScopeOf(request, ctx);
        if (scope === undefined) return view;
        return {
          ...view,
          sites: await visible(view.sites, (s) => scope.site(s.site)),
          vms: await visible(view.vms, (vm) => scope.site(vm.site)),
        };
      },
    );
  };
}
