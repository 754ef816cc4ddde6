/**
 * `/api/v1/auto` and `/api/v1/sites/:site/maintenance`: arm, disarm, veto, drill the automation,
 * its status, and a site's maintenance mode. Audited by the API's hook like every mutating call;
 * the notifications (armed, vetoed) are raised here.
 */
import { z } from 'zod';
import { DrError, tryParseDuration } from '../../common/index.ts';
import { actorOf, listScopeOf, visible } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { autoFailoverNotification } from '../notify/index.ts';
import { ProblemSchema } from '../problem.ts';
import type { Automation } from './automation.ts';
import { autoStatus } from './status.ts';

const PlanParams = z.strictObject({ name: z.string().min(1).max(200) });
const SiteParams = z.strictObject({ site: z.string().min(1).max(200) });
const refused = { 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };
const loose = z.looseObject({});
/** The longest maintenance mode: a week (longer is a disarm, said so). */
const MAINTENANCE_MAX_MS = 7 * 24 * 3600_000;

export function registerAutoRoutes(app: ControlApp, ctx: ControlContext): void {
  const automation = (): Automation => {
    if (ctx.automation === undefined)
      throw new DrError(
        'AUTO_UNAVAILABLE',
        'this control plane runs no automation; start it with drctl serve',
        {
          retryable: true,
        },
      );
    return ctx.automation;
  };
  const notify = (event: Parameters<NonNullable<ControlContext['notifications']>['notify']>[0]) =>
    void ctx.notifications?.notify(event).catch(() => undefined);

  app.get(
    '/auto',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: "Every plan's automatic failover: armed, its last decision, maintenance, reprotect offered",
        response: { 200: loose, ...refused },
      },
    },
    async (request) => {
      const status = await autoStatus(ctx.redis, ctx.prefix, automation().store);
      // A scoped token sees the plans it may act on and its sites' maintenance only.
      const scope = listScopeOf(request, ctx);
      if (scope === undefined) return { ...status };
      return {
        ...status,
        plans: await visible(status.plans, (p) => scope.plan(p.plan)),
        maintenance: await visible(status.maintenance, (m) => scope.site(m.site)),
      };
    },
  );

  app.post(
    '/auto/plans/:name/arm',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: "Arm (or re-arm) a plan's automatic failover: the version stored now, once",
        params: PlanParams,
        response: { 200: loose, ...refused },
      },
    },
    async (request) => {
      const by = actorOf(request);
      const arm = await automation().store.arm(request.params.name, by);
      notify(
        autoFailoverNotification({
          plan: arm.plan,
          stage: 'armed',
          occurrence: arm.armId,
          site: arm.site,
          by,
        }),
      );
      return { ...arm };
    },
  );

  app.post(
    '/auto/plans/:name/disarm',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: "Disarm a plan's automatic failover",
        params: PlanParams,
        response: { 200: loose, ...refused },
      },
    },
    async (request) => {
      const removed = await automation().store.disarm(request.params.name);
      return { plan: request.params.name, disarmed: removed !== undefined };
    },
  );

  app.post(
    '/auto/plans/:name/veto',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: 'Veto an automatic failover (or its drill) while its veto window is open',
        params: PlanParams,
        body: z.strictObject({ reason: z.string().min(1).max(2000) }),
        response: { 200: loose, ...refused },
      },
    },
    async (request) => {
      const by = actorOf(request);
      const record = await automation().store.veto(request.params.name, by, request.body.reason);
      notify(
        autoFailoverNotification({
          plan: record.plan,
          stage: 'vetoed',
          occurrence: record.id,
          site: record.site,
          by,
          reason: request.body.reason,
        }),
      );
      return { ...record };
    },
  );

  app.post(
    '/auto/plans/:name/drill',
    {
      schema: {
        tags: ['automatic-failover'],
        summary:
          "Drill the automation: the plan's source declared lost on purpose, a test failover instead of a real one",
        description: 'Answers once it is decided: after the veto window, with the test execution or why not.',
        params: PlanParams,
        response: { 200: loose, ...refused },
      },
    },
    async (request) => ({ ...(await automation().drill(request.params.name, actorOf(request))) }),
  );

  app.post(
    '/sites/:site/maintenance',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: "A site's maintenance mode: no automatic failover of its plans for a set time",
        params: SiteParams,
        body: z.strictObject({ for: z.string().describe('how long, e.g. 2h; it ends by itself') }),
        response: { 200: loose, ...refused },
      },
    },
    async (request) => {
      const ms = tryParseDuration(request.body.for);
      if (ms === undefined || ms <= 0 || ms > MAINTENANCE_MAX_MS)
        throw new DrError(
          'BAD_DURATION',
          `maintenance for '${request.body.for}': give a duration from 1s to 7d (e.g. 2h); for longer, disarm the plans`,
          { exitCode: 2, details: { status: 400, field: 'for' } },
        );
      return { ...(await automation().store.setMaintenance(request.params.site, ms, actorOf(request))) };
    },
  );

  app.delete(
    '/sites/:site/maintenance',
    {
      schema: {
        tags: ['automatic-failover'],
        summary: "End a site's maintenance mode now",
        params: SiteParams,
        response: { 200: loose, ...refused },
      },
    },
    async (request) => ({
      site: request.params.site,
      ended: await automation().store.endMaintenance(request.params.site),
    }),
  );
}
