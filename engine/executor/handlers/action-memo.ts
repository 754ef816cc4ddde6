/**
 * The action memo in Redis (handlers/action.ts says what it is for): one HASH per execution,
 * `<prefix>:{exec:<id>}:actions` (the execution's hash tag), with per step `done|<step>` (the
 * result of a run that ended done/warned), `run|<step>` (the mark of a run in progress) and
 * `runs|<step>` (runs started); a script's mark gets its process group once it started. Kept as
 * long as finished jobs are.
 */
import type { Redis } from 'ioredis';
import type { StepJobResult } from '../../contract/index.ts';
import type { PlanAction } from '../../plan/types.ts';
import { parseStepJobResult } from '../completions.ts';
import { appendEvent } from '../events.ts';
import { FINISHED_JOB_RETENTION_S } from '../queues.ts';
import { loadPlanSnapshot } from '../store/execution-record.ts';
import type { ActionMemo, ActionRunMark } from './action.ts';

export function actionMemoKey(prefix: string, execution: string): string {
  return `${prefix}:{exec:${execution}}:actions`;
}

export function redisActionMemo(redis: Redis, prefix: string, execution: string): ActionMemo {
  const key = actionMemoKey(prefix, execution);
  return {
    done: async (step) => {
      const raw = await redis.hget(key, `done|${step}`);
      if (raw === null) return undefined;
      return parseStepJobResult(JSON.parse(raw), `action memo of ${step}`).steps[0];
    },
    begin: async (step, mark) => {
      const replies = await redis
        .multi()
        .hget(key, `run|${step}`)
        .hset(key, `run|${step}`, JSON.stringify(mark))
        .hincrby(key, `runs|${step}`, 1)
        .expire(key, FINISHED_JOB_RETENTION_S)
        .exec();
      const previous = replies?.[0]?.[1];
      const runs = Number(replies?.[2]?.[1] ?? 1);
      return typeof previous === 'string'
        ? { interrupted: JSON.parse(previous) as ActionRunMark, runs }
        : { runs };
    },
    spawned: async (step, group) => {
      const raw = await redis.hget(key, `run|${step}`);
      if (raw === null) return;
      const mark = JSON.parse(raw) as ActionRunMark;
      await redis.hset(key, `run|${step}`, JSON.stringify({ ...mark, group }));
    },
    end: async (step, result) => {
      const multi = redis.multi().hdel(key, `run|${step}`);
      if (result !== undefined && (result.outcome === 'done' || result.outcome === 'warned')) {
        const memo: StepJobResult = { v: 1, steps: [result] };
        multi.hset(key, `done|${step}`, JSON.stringify(memo));
      }
      await multi.exec();
    },
    note: async (event) => {
      await appendEvent(redis, prefix, event);
    },
    vmsOf: async (action: PlanAction) => {
      if (action.vm !== undefined) return [action.vm];
      if (action.group === undefined) return [];
      const plan = await loadPlanSnapshot(redis, prefix, execution);
      return plan.groups.find((g) => g.name === action.group)?.vms ?? [];
    },
  };
}

/** The same memo in memory (tests, a worker without Redis). */
export function memoryActionMemo(): ActionMemo & { events: unknown[] } {
  const values = new Map<string, string>();
  const events: unknown[] = [];
  return {
    events,
    done: async (step) => {
      const raw = values.get(`done|${step}`);
      return raw === undefined ? undefined : (JSON.parse(raw) as StepJobResult).steps[0];
    },
    begin: async (step, mark) => {
      const previous = values.get(`run|${step}`);
      values.set(`run|${step}`, JSON.stringify(mark));
      const runs = Number(values.get(`runs|${step}`) ?? 0) + 1;
      values.set(`runs|${step}`, String(runs));
      return previous === undefined ? { runs } : { interrupted: JSON.parse(previous) as ActionRunMark, runs };
    },
    spawned: async (step, group) => {
      const raw = values.get(`run|${step}`);
      if (raw !== undefined) values.set(`run|${step}`, JSON.stringify({ ...JSON.parse(raw), group }));
    },
    end: async (step, result) => {
      values.delete(`run|${step}`);
      if (result !== undefined && (result.outcome === 'done' || result.outcome === 'warned'))
        values.set(`done|${step}`, JSON.stringify({ v: 1, steps: [result] }));
    },
    note: async (event) => {
      events.push(event);
    },
  };
}
