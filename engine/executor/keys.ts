/**
 * The Redis key layout of the engine. Everything about one execution lives under one Redis Cluster
 * hash tag, `{exec:<id>}`, so that a Lua script may touch all of an execution's keys at once; the
 * few global keys (epoch counter, indexes) are touched on their own, never together with an
 * execution's keys in one script.
 *
 * ```
 * <prefix>:epoch                       INCR counter: the fencing token of each submitted execution
 * <prefix>:executions                  ZSET id → created (ms): every execution
 * <prefix>:active                      ZSET id → created (ms): executions not yet finished
 * <prefix>:deadlines                   ZSET drill id → deadline (ms): auto-cleanup of drills
 * <prefix>:wake                        pub/sub channel: "an execution needs an orchestrator"
 * <prefix>:{exec:<id>}:meta            HASH: plan snapshot, hash, who/why, epoch, status, counters
 * <prefix>:{exec:<id>}:steps           HASH step id → step state (see store/step-state.ts)
 * <prefix>:{exec:<id>}:vms             HASH vm → persisted VM machine snapshot (compact JSON)
 * <prefix>:{exec:<id>}:events          STREAM: the versioned event log (events.ts)
 * <prefix>:{exec:<id>}:completions     STREAM: job results written by site workers (completions.ts)
 * <prefix>:{exec:<id>}:claims          HASH <job id>|<unit> → follow units its worker claimed (events.ts)
 * <prefix>:{exec:<id>}:lease           STRING: the owning orchestrator's lease token (PX)
 * <prefix>:{exec:<id>}:plan            STRING: the plan snapshot (JSON) the execution runs
 * <prefix>:{exec:<id>}:reports         HASH SHA-256 → {generatedAt, format}: its reports (engine/report)
 * {<prefix>}:<queue>:...               BullMQ's own keys (queues.ts: queuePrefix)
 * ```
 */

/** Key prefix used when none is configured. @defaultValue 'dr' */
export const DEFAULT_PREFIX = 'dr';

/** The keys of one execution. */
export interface ExecutionKeys {
  readonly meta: string;
  readonly steps: string;
  readonly vms: string;
  readonly events: string;
  readonly completions: string;
  /** HASH: each finished unit's decision on its follow units (claimed or not), made once. */
  readonly claims: string;
  readonly lease: string;
  /** STRING: the plan snapshot (JSON), apart from meta so that status reads stay small. */
  readonly plan: string;
  /** HASH: the SHA-256 of each report generated of it, so a later copy can be checked (engine/report). */
  readonly reports: string;
}

/** The global (non-execution) keys under a prefix. */
export interface GlobalKeys {
  readonly epoch: string;
  readonly executions: string;
  readonly active: string;
  readonly deadlines: string;
  readonly wake: string;
}

export function executionKeys(prefix: string, execution: string): ExecutionKeys {
  const base = `${prefix}:{exec:${execution}}`;
  return {
    meta: `${base}:meta`,
    steps: `${base}:steps`,
    vms: `${base}:vms`,
    events: `${base}:events`,
    completions: `${base}:completions`,
    claims: `${base}:claims`,
    lease: `${base}:lease`,
    plan: `${base}:plan`,
    reports: `${base}:reports`,
  };
}

export function globalKeys(prefix: string): GlobalKeys {
  return {
    epoch: `${prefix}:epoch`,
    executions: `${prefix}:executions`,
    active: `${prefix}:active`,
    deadlines: `${prefix}:deadlines`,
    wake: `${prefix}:wake`,
  };
}

/**
 * BullMQ's `prefix` option for the engine's queues: a hash tag, so that each queue's keys stay in
 * one Redis Cluster slot, as BullMQ requires.
 */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** The Redis key of a BullMQ job's hash (read directly, pipelined, when reconciling on resume). */
export function bullJobKey(prefix: string, queue: string, jobId: string): string {
  return `${queuePrefix(prefix)}:${queue}:${jobId}`;
}
