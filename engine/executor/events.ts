/**
 * The execution's event log: an append-only Redis stream (`<prefix>:{exec:<id>}:events`), one
 * JSON-encoded event per entry under the field `e`. The timeline of record for status, reports and
 * the dashboard. Writers: the orchestrator and the site workers (vm-phase and step events).
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { DrError } from '../common/index.ts';
import { type EngineEvent, engineEventSchema } from './event-schema.ts';
import { executionKeys } from './keys.ts';

/** A stored event with its stream id (`<ms>-<seq>`, Redis time of the append). */
export interface StoredEvent {
  id: string;
  event: EngineEvent;
}

/** Append one event to its execution's stream. Returns the stream id. */
export async function appendEvent(redis: Redis, prefix: string, event: EngineEvent): Promise<string> {
  const id = await redis.xadd(executionKeys(prefix, event.execution).events, '*', 'e', JSON.stringify(event));
  return id ?? '';
}

/** Queue the append of one event on a pipeline or MULTI (no round trip of its own). */
export function appendEventTo(pipeline: ChainableCommander, prefix: string, event: EngineEvent): void {
  pipeline.xadd(executionKeys(prefix, event.execution).events, '*', 'e', JSON.stringify(event));
}

/** Append several events (any executions) in one round trip, in order. */
export async function appendEvents(
  redis: Redis,
  prefix: string,
  events: readonly EngineEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const pipeline = redis.pipeline();
  for (const event of events) appendEventTo(pipeline, prefix, event);
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}

/** Options of readEvents. */
export interface ReadEventsOptions {
  /**
   * Return only events after this stream id.
   * @defaultValue '0' (from the start)
   */
  after?: string;
  /**
   * At most this many events.
   * @defaultValue 10000
   */
  count?: number;
  /** Wait up to this long for new events when there are none (XREAD BLOCK). Needs a connection of its own. */
  blockMs?: number;
}

/** Parse one stream entry, rejecting unknown versions or shapes with a clear error. */
export function parseEventEntry(execution: string, id: string, fields: readonly string[]): StoredEvent {
  const raw = fields[fields.indexOf('e') + 1];
  if (raw === undefined) {
    throw new DrError('EVENT_MALFORMED', `event ${id} of execution ${execution} has no payload`);
  }
  const parsed = engineEventSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) {
    throw new DrError(
      'EVENT_UNKNOWN_SCHEMA',
      `event ${id} of execution ${execution} does not match event schema v1 (${parsed.error.issues[0]?.message ?? 'invalid'}); upgrade drctl to read it`,
    );
  }
  return { id, event: parsed.data as EngineEvent };
}

/** Read an execution's events in order, validated against the event schema. */
export async function readEvents(
  redis: Redis,
  prefix: string,
  execution: string,
  options: ReadEventsOptions = {},
): Promise<StoredEvent[]> {
  const key = executionKeys(prefix, execution).events;
  const after = options.after ?? '0';
  const count = options.count ?? 10_000;
  let entries: [string, string[]][];
  if (options.blockMs !== undefined) {
    const reply = await redis.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', key, after);
    entries = reply?.[0]?.[1] ?? [];
  } else {
    entries = await redis.xrange(key, after === '0' ? '-' : `(${after}`, '+', 'COUNT', count);
  }
  return entries.map(([id, fields]) => parseEventEntry(execution, id, fields));
}

/** Every event of an execution, in pages (for reports and the timeline). */
export async function readAllEvents(redis: Redis, prefix: string, execution: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after = '0';
  for (;;) {
    const page = await readEvents(redis, prefix, execution, { after, count: 10_000 });
    all.push(...page);
    const last = page.at(-1);
    if (!last || page.length < 10_000) return all;
    after = last.id;
  }
}

/**
 * Appends a tick's worth of events and completions of an execution in ONE script: hundreds of units
 * running in one worker write their step and phase events and their results together, one round
 * trip and one command instead of one XADD each. The streams' entries are the same as single
 * appends make (one event per `events` entry, one result per `completions` entry).
 */
const APPEND_SCRIPT = `
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
end
local i = n + 2
while i < #ARGV do
  redis.call('XADD', KEYS[2], '*', 'j', ARGV[i], 'r', ARGV[i + 1])
  i = i + 2
end
return n
`;

/** Most entries' arguments in one append script (far below the limits of a JS call's arguments). */
const MAX_APPEND_ARGS = 4000;

interface PendingAppends {
  events: string[];
  completions: string[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/** A writer of the execution streams that batches the appends made in the same tick. */
export interface StreamWriter {
  /** Append events (in order); resolves once they are in the stream. */
  appendEvents(events: readonly EngineEvent[]): Promise<void>;
  /** Append a job's result to the completions stream, after every event appended before it. */
  publish(execution: string, jobId: string, result: unknown): Promise<void>;
}

/**
 * Appends of the same tick are sent together, per execution, as one EVAL (always EVAL, never
 * EVALSHA: a NOSCRIPT retry would be sent after later appends and break their order). One
 * connection runs its commands in order, so whatever was appended earlier, events or results, is
 * in the streams before what comes later: a result never precedes its step's events.
 */
export function createStreamWriter(redis: Redis, prefix: string): StreamWriter {
  // Per execution, in order; a new script after MAX_APPEND_ARGS arguments.
  let pending = new Map<string, PendingAppends[]>();
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    for (const [execution, appends] of [...batch].flatMap(([e, list]) => list.map((a) => [e, a] as const))) {
      const keys = executionKeys(prefix, execution);
      redis
        .eval(
          APPEND_SCRIPT,
          2,
          keys.events,
          keys.completions,
          String(appends.events.length),
          ...appends.events,
          ...appends.completions,
        )
        .then(
          () => {
            for (const waiter of appends.waiters) waiter.resolve();
          },
          (error: unknown) => {
            for (const waiter of appends.waiters) waiter.reject(error);
          },
        );
    }
  };

  const enqueue = (execution: string, add: (appends: PendingAppends) => void): Promise<void> => {
    let list = pending.get(execution);
    if (!list) {
      list = [];
      pending.set(execution, list);
    }
    let appends = list.at(-1);
    if (!appends || appends.events.length + appends.completions.length >= MAX_APPEND_ARGS) {
      appends = { events: [], completions: [], waiters: [] };
      list.push(appends);
    }
    add(appends);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    const target = appends;
    return new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
  };

  return {
    appendEvents: async (events) => {
      const byExecution = new Map<string, string[]>();
      for (const event of events) {
        const list = byExecution.get(event.execution) ?? [];
        list.push(JSON.stringify(event));
        byExecution.set(event.execution, list);
      }
      await Promise.all(
        [...byExecution].map(([execution, list]) =>
          enqueue(execution, (appends) => appends.events.push(...list)),
        ),
      );
    },
    publish: (execution, jobId, result) =>
      enqueue(execution, (appends) => appends.completions.push(jobId, JSON.stringify(result))),
  };
}
