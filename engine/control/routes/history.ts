/**
 * `GET /api/v1/history`: per VM, the worst RPO and replication health of each 5-minute bucket of
 * the last 24 hours (engine/control/history), for the dashboard's charts. Columnar: one array per
 * measure, oldest bucket first, null in a gap, so a page of 200 VMs stays a few hundred KB.
 */
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import { listScopeOf, visible } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { BUCKET_MS, SERIES_BUCKETS } from '../history/index.ts';

/** VMs one request may ask for (a dashboard page). */
export const HISTORY_PAGE_MAX = 200;

const HEALTH = z.enum(['Normal', 'Warning', 'Critical']);

const QuerySchema = z.strictObject({
  vm: z
    .union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(HISTORY_PAGE_MAX)])
    .describe(`a VM name; repeat for a page of up to ${HISTORY_PAGE_MAX}`),
});

const SeriesSchema = z
  .object({
    vm: z.string(),
    site: z.string().nullable().describe('site of the latest sample; null: no history'),
    start: z.number().int().describe('start of the oldest bucket, ms since the Unix epoch'),
    stepMs: z.literal(BUCKET_MS),
    rpoSec: z.array(z.number().nullable()).length(SERIES_BUCKETS).describe('worst RPO of each bucket, s'),
    health: z
      .array(HEALTH.nullable())
      .length(SERIES_BUCKETS)
      .describe('worst replication health of each bucket'),
  })
  .meta({ id: 'VmHistory' });

const ResponseSchema = z.object({ vms: z.array(SeriesSchema) });

export function registerHistoryRoutes(app: ControlApp, ctx: ControlContext): void {
  app.get(
    '/history',
    {
      schema: {
        summary: "VMs' RPO and replication health over the last 24 hours, in 5-minute buckets",
        tags: ['inventory'],
        querystring: QuerySchema,
        response: { 200: ResponseSchema },
      },
    },
    async (request) => {
      const history = ctx.history;
      if (history === undefined) {
        throw new DrError('NO_HISTORY', 'this control plane keeps no inventory history', { retryable: true });
      }
      const vms = typeof request.query.vm === 'string' ? [request.query.vm] : request.query.vm;
      const all = await history.readMany(vms);
      // A scoped token gets its sites' VMs only (as /inventory); a VM with no history names no site
      // and holds nothing.
      const scope = listScopeOf(request, ctx);
      const series =
        scope === undefined
          ? all
          : await visible(all, async (one) => one.site === null || scope.site(one.site));
      return {
        vms: series.map((one) => ({
          vm: one.vm,
          site: one.site,
          start: one.points[0]?.at ?? 0,
          stepMs: BUCKET_MS,
          rpoSec: one.points.map((point) => point.rpoSec),
          health: one.points.map((point) => point.health),
        })),
      };
    },
  );
}
