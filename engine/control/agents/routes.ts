/**
 * The agents' routes under `/api/v1`: `POST /agents/:site/hello|heartbeat|units:poll|results|memo|
 * failed-over|divergences` and `GET /sites`. Every body has a strict schema (agent-protocol.ts) and
 * a size cap of its own; a bad one is a 4xx problem that says why, counted in /metrics.
 */
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import {
  divergencesSchema,
  failedOverQuerySchema,
  failedOverReplySchema,
  heartbeatSchema,
  helloReplySchema,
  helloSchema,
  jobStepKind,
  memoReplySchema,
  memoSchema,
  pollReplySchema,
  pollSchema,
  resultsReplySchema,
  resultsSchema,
  type StepJobData,
  siteListSchema,
} from '../../contract/index.ts';
import { appendEvents, loadPlanSnapshot, redisActionMemo, redisSweepVault } from '../../executor/index.ts';
import { readFailedOver } from '../../locks/index.ts';
import { listScopeOf, visible } from '../auth/index.ts';
import { CONTROL_VERSION, type ControlApp, type ControlContext } from '../context.ts';
import { readSiteLeases } from '../monitor/keys.ts';
import { handedTo, refusedError } from './checks.ts';
import type { AgentHub } from './hub.ts';
import { agentHubOf } from './hub-of.ts';
import { acceptReports } from './results.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const siteParams = z.strictObject({ site: z.string().regex(/^[\w.-]{1,100}$/, 'a site name') });
const okSchema = z.object({ ok: z.literal(true) });
const POLL_ENDED = new Error('poll ended');

export async function registerAgentRoutes(app: ControlApp, ctx: ControlContext): Promise<void> {
  const hub = agentHubOf(ctx);
  const { sessions, handing } = hub;

  app.post(
    '/agents/:site/hello',
    {
      bodyLimit: 256 * KiB,
      schema: {
        tags: ['agents'],
        summary:
          "Open a site agent's session (409 while another agent's is live, unless the hello says replace)",
        params: siteParams,
        body: helloSchema,
        response: { 200: helloReplySchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      if (request.body.site !== site) {
        throw new DrError('SITE_MISMATCH', `hello for site ${request.body.site} posted to /agents/${site}`, {
          exitCode: 2,
        });
      }
      const record = await sessions.hello(request.body);
      hub.siteSeen(site);
      request.log.info({ site, agentId: record.agentId, version: record.version }, 'agent said hello');
      return {
        session: record.session,
        controlVersion: CONTROL_VERSION,
        heartbeatMs: sessions.heartbeatMs,
        sessionTtlMs: sessions.sessionTtlMs,
      };
    },
  );

  app.post(
    '/agents/:site/heartbeat',
    {
      bodyLimit: 2 * MiB,
      schema: {
        tags: ['agents'],
        params: siteParams,
        body: heartbeatSchema,
        response: { 200: z.object({ ok: z.literal(true), sendCatalog: z.boolean() }) },
      },
    },
    async (request) => {
      const { sendCatalog } = await sessions.heartbeat(request.params.site, request.body);
      return { ok: true as const, sendCatalog };
    },
  );

  app.post(
    '/agents/:site/units::poll',
    {
      bodyLimit: 4 * KiB,
      schema: {
        tags: ['agents'],
        summary: 'Units for the agent to run: at once when some are ready, else waits up to waitMs',
        params: siteParams,
        body: pollSchema,
        response: { 200: pollReplySchema },
      },
    },
    async (request, reply) => {
      const { site } = request.params;
      const { session, max, waitMs } = request.body;
      const deadline = Date.now() + waitMs;
      // The session first: a poll of a site name with no session leaves nothing behind.
      await sessions.touch(site, session);
      const gone = new AbortController();
      // The response's close, not the request's: a request closes once its body was read (Node
      // 16+), which ended every poll at once and left its wait's timer running for `waitMs`.
      // With a reason of its own: abort() without one builds a DOMException (a stack) per poll.
      const onClose = (): void => gone.abort(POLL_ENDED);
      reply.raw.once('close', onClose);
      // The units' JSON as stored: checked when they were handed, parsed by the agent (no zod here).
      // A JSON string goes out as it is (fastify serializes only objects): typed as the reply it is.
      const answer = (units: readonly string[]) =>
        reply
          .type('application/json')
          .send(`{"units":[${units.join(',')}]}` as unknown as z.infer<typeof pollReplySchema>);
      try {
        for (;;) {
          // Listen before looking, so that a unit listed in between still wakes this poll.
          const woken = hub.polls.nextWake(site, gone.signal);
          if (gone.signal.aborted || hub.pollsStopped) return answer([]);
          const taken = await handing.take(site, session, max);
          if (taken.status !== 'ok') await sessions.touch(site, session);
          const left = deadline - Date.now();
          if (taken.units.length > 0 || left <= 0) return answer(taken.units);
          // Units this control plane hands while this poll waits come straight here.
          const waiting = hub.polls.receive(site, { session, max }, gone.signal);
          const units = await Promise.race([
            waiting.units,
            woken.then(() => []),
            sleep(left, gone.signal).then(() => []),
          ]);
          waiting.cancel();
          if (units.length === 0) continue;
          if (gone.signal.aborted) {
            // Nobody to answer: back on the ready list for the agent's next poll.
            for (const unit of units) await handing.rehand(site, (JSON.parse(unit) as { id: string }).id);
            return answer([]);
          }
          return answer(units);
        }
      } finally {
        reply.raw.off('close', onClose);
        gone.abort(POLL_ENDED);
      }
    },
  );

  app.post(
    '/agents/:site/results',
    {
      bodyLimit: 8 * MiB,
      schema: {
        tags: ['agents'],
        summary: "Units' reports: each re-checked against the unit handed out; a bad one refuses the request",
        params: siteParams,
        body: resultsSchema,
        response: { 200: resultsReplySchema },
      },
    },
    async (request) =>
      acceptReports(
        hub,
        {
          site: request.params.site,
          session: request.body.session,
          results: request.body.results,
          progress: request.body.progress ?? [],
        },
        request.log,
      ),
  );

  app.post(
    '/agents/:site/memo',
    {
      bodyLimit: 64 * KiB,
      schema: {
        tags: ['agents'],
        summary: "An action memo call of a running unit (an action's run is counted here, before it starts)",
        params: siteParams,
        body: memoSchema,
        response: { 200: memoReplySchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      const { session, unit, step, call } = request.body;
      const data = await handedData(hub, site, session, unit);
      if (!data.steps.includes(step) || jobStepKind(step) !== 'action') {
        throw new DrError('STEP_NOT_OF_UNIT', `step ${step} is not an action step of unit ${unit}`, {
          details: { status: 422 },
        });
      }
      const memo = redisActionMemo(ctx.redis, ctx.prefix, data.execution);
      switch (call.op) {
        case 'done': {
          const done = await memo.done(step);
          return done === undefined ? {} : { done: { ...done } };
        }
        case 'begin': {
          const begun = await memo.begin(step, { ...call.mark, job: unit });
          return {
            runs: begun.runs,
            ...(begun.interrupted === undefined ? {} : { interrupted: { ...begun.interrupted } }),
          };
        }
        case 'spawned':
          await memo.spawned?.(step, call.group);
          return {};
        case 'end':
          if (call.result !== undefined && call.result.id !== step) {
            throw new DrError(
              'STEP_NOT_OF_UNIT',
              `memo end of ${step} with the result of ${call.result.id}`,
              {
                details: { status: 422 },
              },
            );
          }
          await memo.end(step, call.result);
          return {};
      }
    },
  );

  app.post(
    '/agents/:site/failed-over',
    {
      bodyLimit: 2 * MiB,
      schema: {
        tags: ['agents'],
        summary:
          "For the agent's fence sweep: which of these VMs were failed over, by what, under which epoch (403 for a VM whose failover concerns neither this site nor its plan's)",
        params: siteParams,
        body: failedOverQuerySchema,
        response: { 200: failedOverReplySchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      await sessions.touch(site, request.body.session);
      const records = await redisSweepVault(ctx.redis, ctx.prefix).failedOver(request.body.vms);
      // A site learns only of failovers it has a part in: to it, or of a plan it is a site of. A
      // record whose execution's plan snapshot is gone is answered: the sweep must still fence.
      const planSites = await sitesOfExecutions(ctx, [
        ...new Set([...records.values()].map((r) => r.execution)),
      ]);
      const foreign = [...records]
        .filter(([, r]) => {
          const sites = planSites.get(r.execution);
          return r.site !== site && sites !== undefined && !sites.includes(site);
        })
        .map(([vm]) => vm);
      if (foreign.length > 0) {
        throw new DrError(
          'FAILED_OVER_NOT_OF_SITE',
          `site ${site} asked about ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ''}: their failovers concern other sites; an agent asks only about the VMs of its own site`,
          { details: { status: 403, site } },
        );
      }
      return { records: Object.fromEntries(records) };
    },
  );

  app.post(
    '/agents/:site/divergences',
    {
      bodyLimit: 1 * MiB,
      schema: {
        tags: ['agents'],
        summary: "The fence sweep's divergences: old primaries of this site found running after a failover",
        params: siteParams,
        body: divergencesSchema,
        response: { 200: okSchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      const { session, events } = request.body;
      await sessions.touch(site, session);
      const records = await readFailedOver(
        ctx.redis,
        ctx.prefix,
        events.map((e) => e.vm),
      );
      const planSites = await sitesOfExecutions(ctx, [...new Set(events.map((e) => e.execution))]);
      for (const event of events) {
        const record = records.get(event.vm);
        const sites = planSites.get(event.execution);
        // Only the site a VM was failed over away from can find its old primary running, and
        // it runs where the vault says the failover put it: anything else is not a divergence.
        if (
          event.site !== site ||
          record === undefined ||
          record.execution !== event.execution ||
          record.site === site ||
          event.runsAt !== record.site ||
          sites === undefined ||
          !sites.includes(site)
        ) {
          throw new DrError(
            'DIVERGENCE_NOT_OF_SITE',
            `divergence of ${event.vm} at ${event.site} running at ${event.runsAt} for ${event.execution}: the vault records no failover of it by that execution away from site ${site} to ${event.runsAt}`,
            { details: { status: 422 } },
          );
        }
      }
      await appendEvents(ctx.redis, ctx.prefix, events);
      return { ok: true as const };
    },
  );

  app.get(
    '/sites',
    {
      schema: {
        tags: ['agents'],
        summary: 'The sites agents serve: agent, version, heartbeat age',
        response: { 200: siteListSchema },
      },
    },
    async (request) => {
      const [all, leases] = await Promise.all([sessions.list(), readSiteLeases(ctx.redis, ctx.prefix)]);
      // A scoped token sees its sites only.
      const scope = listScopeOf(request, ctx);
      const sites = scope === undefined ? all : await visible(all, (s) => scope.site(s.site));
      return {
        sites: sites.map((site) => {
          const lease = leases.get(site.site);
          return lease === undefined
            ? site
            : { ...site, lease: { state: lease.state, at: lease.at, leaseLeftMs: lease.leaseLeftMs } };
        }),
      };
    },
  );
}

/**
 * The two sites of each execution's plan (its snapshot), so that a divergence is taken only from
 * the other site than the one a failover put the VM at. No snapshot: no sites, the post is refused.
 */
async function sitesOfExecutions(
  ctx: ControlContext,
  executions: readonly string[],
): Promise<Map<string, readonly string[]>> {
  const out = new Map<string, readonly string[]>();
  for (const execution of executions) {
    const plan = await loadPlanSnapshot(ctx.redis, ctx.prefix, execution).catch((err: unknown) => {
      if (err instanceof DrError && err.code === 'EXECUTION_CORRUPT') return undefined;
      throw err;
    });
    if (plan !== undefined) out.set(execution, [plan.source, plan.target]);
  }
  return out;
}

/** The unit's StepJobData when it is handed to this session of this site's agent, else a 4xx. */
async function handedData(hub: AgentHub, site: string, session: string, unit: string): Promise<StepJobData> {
  await hub.sessions.touch(site, session);
  const [entry] = await hub.handing.read(site, [unit]);
  const refusal = handedTo(site, session, unit, entry);
  if (refusal !== undefined || entry === undefined) throw refusedError(site, refusal ? [refusal] : []);
  return entry.unit.data as unknown as StepJobData;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
