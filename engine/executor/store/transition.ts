/**
 * Change the machine of an execution that no orchestrator drives (a settled drill: its cleanup
 * starts or ends), with a compare-and-set on the stored snapshot so concurrent writers cannot lose
 * an update.
 */
import type { Redis } from 'ioredis';
import type { EngineEvent } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION } from '../../contract/index.ts';
import {
  applyExecutionEvent,
  type ExecutionMachineEvent,
  type ExecutionSnapshot,
  executionStatus,
  persistExecution,
  restoreExecution,
} from '../../machines/index.ts';
import { executionKeys } from '../keys.ts';
import { META } from './record.ts';
import { LuaScript } from './script.ts';

const CAS = new LuaScript(
  `
if redis.call('HGET', KEYS[1], 'machine') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[2] ~= '' then redis.call('XADD', KEYS[2], '*', 'e', ARGV[2]) end
return 1`,
  2,
);

/** Apply `event`; returns the new snapshot, or undefined when the machine does not accept it. */
export async function transitionExecution(
  redis: Redis,
  prefix: string,
  execution: string,
  event: ExecutionMachineEvent,
  extra: [string, string][] = [],
): Promise<ExecutionSnapshot | undefined> {
  const keys = executionKeys(prefix, execution);
  for (let tries = 0; tries < 20; tries += 1) {
    const stored = await redis.hget(keys.meta, META.machine);
    if (!stored) return undefined;
    const { snapshot, changed } = applyExecutionEvent(restoreExecution(stored), event);
    if (!changed) return undefined;
    const status = executionStatus(snapshot);
    const note: EngineEvent = {
      v: EVENT_SCHEMA_VERSION,
      at: new Date(event.now).toISOString(),
      type: 'execution-status',
      execution,
      status,
      ...(snapshot.context.autoCleanup ? { detail: 'drill deadline passed: cleaned up by the engine' } : {}),
    };
    const fields = [META.status, status, META.machine, persistExecution(snapshot), ...extra.flat()];
    const ok = await CAS.run(redis, [keys.meta, keys.events, stored, JSON.stringify(note), '', ...fields]);
    if (ok === 1) return snapshot;
  }
  return undefined;
}
