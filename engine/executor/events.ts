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
