/**
 * Drills past their deadline are cleaned up by the engine. The deadline is stored with the drill
 * (meta and `<prefix>:deadlines`), so any orchestrator, started at any time, acts on it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import { globalKeys } from '../keys.ts';
import { submitCleanup } from '../store/cleanup.ts';
import { loadExecution } from '../store/execution-record.ts';
import type { DecisionSink } from './runner-deps.ts';

export async function cleanUpExpiredDrills(
  redis: Redis,
  prefix: string,
  now: () => number,
  log: Logger,
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
        continue;
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
