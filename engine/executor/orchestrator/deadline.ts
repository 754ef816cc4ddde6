/**
 * Drills past their deadline are cleaned up by the engine. The deadline is stored with the drill
 * (meta and `<prefix>:deadlines`), so any orchestrator, started at any time, acts on it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import { globalKeys } from '../keys.ts';
import { submitCleanup } from '../store/cleanup.ts';
import { loadExecution } from '../store/execution-record.ts';
import type { DecisionSink, ExecutionNotice } from './runner-deps.ts';

/** Who hears of overdue drills, and the drills already told of by this orchestrator. */
export interface OverdueNotices {
  onNotices: (notices: readonly ExecutionNotice[]) => Promise<unknown>;
  told: Set<string>;
}

export async function cleanUpExpiredDrills(
  redis: Redis,
  prefix: string,
  now: () => number,
  log: Logger,
  overdue?: OverdueNotices,
  decided?: DecisionSink,
): Promise<string[]> {
  const global = globalKeys(prefix);
  const due = await redis.zrangebyscore(global.deadlines, 0, now(), 'LIMIT', 0, 100);
  const started: string[] = [];
  for (const drill of due) {
    try {
      const { record } = await loadExecution(redis, prefix, drill);
      if (record.status === 'cleaned-up') {
        await redis.zrem(global.deadlines, drill);
        overdue?.told.delete(drill);
        continue;
      }
      // Told once per orchestrator; the notification's id dedupes across control planes.
      if (overdue !== undefined && !overdue.told.has(drill)) {
        overdue.told.add(drill);
        await overdue
          .onNotices([
            {
              kind: 'drill-overdue',
              execution: drill,
              plan: record.planName,
              deadline: record.deadline ?? 'unknown',
              status: record.status,
              at: new Date(now()).toISOString(),
            },
          ])
          .catch((error: unknown) =>
            log.warn({ err: error, execution: drill }, 'drill overdue not notified'),
          );
      }
      // A drill still running is cleaned up as soon as it settles.
      if (
        record.status !== 'awaiting-cleanup' &&
        record.status !== 'failed' &&
        record.status !== 'cleaning-up'
      )
        continue;
      const { id, created } = await submitCleanup(redis, prefix, drill, {
        by: 'engine',
        reason: `drill ran past its deadline (${record.deadline ?? 'unknown'})`,
        automatic: true,
        now,
      });
      if (created) {
        log.warn({ execution: drill, cleanup: id }, 'drill past its deadline: cleaning it up');
        await decided?.({
          action: 'drill:cleanup',
          execution: id,
          about: drill,
          plan: record.planName,
          detail: `drill ${drill} ran past its deadline (${record.deadline ?? 'unknown'})`,
        });
        started.push(id);
      }
    } catch (error) {
      log.warn({ err: error, execution: drill }, 'could not clean up an expired drill');
    }
  }
  return started;
}
