/**
 * The execution's event log: an append-only Redis stream (`<prefix>:{exec:<id>}:events`), one
 * JSON-encoded event per entry under the field `e`. The timeline of record for status, reports and
 * the dashboard. Writers: the orchestrator and the site workers (vm-phase and step events).
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { DrError } from '../common/index.ts';
import { type EngineEvent, engineEventSchema } from '../contract/index.ts';
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
  const parsed = engineEventSchema.safeParse(olderShape(JSON.parse(raw)));
  if (!parsed.success) {
    throw new DrError(
      'EVENT_UNKNOWN_SCHEMA',
      `event ${id} of execution ${execution} does not match event schema v1 (${parsed.error.issues[0]?.message ?? 'invalid'}); upgrade drctl to read it`,
    );
  }
  return { id, event: parsed.data as EngineEvent };
}

/**
 * Events of a shape an older drctl wrote, under the name they are read by now: a `data-loss` event
 * with write counts from the simulator's ledger (before the engine claimed data loss itself).
 */
function olderShape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const event = value as Record<string, unknown>;
  if (event.type === 'data-loss' && typeof event.totalLostWrites === 'number')
    return { ...event, type: 'ledger-data-loss' };
  return value;
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
 *
 * A completion may carry a claim request (FollowClaim, JSON): the follow units that wait for the
 * unit, which its worker starts itself. Decided ONCE per unit run (`claims` hash, field
 * `<job id>|<unit>`: `+` and the claimed steps when the unit ended well, `-` when not): a follow is
 * claimed when the unit ended well and is still queued in the job as far as the orchestrator
 * recorded (not given up on, say failed by reconcile while this run went on), the execution is
 * neither halted (a step failed the plan) nor being cancelled, every other unit of the job it waits
 * for has published a good end (`+`) and is still queued in the job or recorded released, and its
 * first step was never touched (no field in `steps`: pending, first attempt; the unit's later steps
 * wait only for the step before them, StepGraph.chainFrom, so they were not either). Its steps are
 * then stored queued in the batch's job (`q`), as the orchestrator would have queued them,
 * atomically with the result, and the completion entry names them (`c`), so the orchestrator
 * records them queued instead of dispatching them. So of the units a follow waits for, the last to
 * end claims it, once. A repeated run of the unit (its job run again) gets the same decision, less
 * the follows no longer queued in the job. Returns, per completion, the claimed steps as JSON ('' for
 * none).
 */
const APPEND_SCRIPT = `
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
end
local replies = {}
local stopped = nil
local i = n + 2
while i < #ARGV do
  local claimed = ''
  if ARGV[i + 2] ~= '' then
    local req = cjson.decode(ARGV[i + 2])
    local field = req.j .. '|' .. req.s
    local decided = redis.call('HGET', KEYS[5], field)
    local units = {}
    if decided then
      if string.len(decided) > 1 then
        for _, steps in ipairs(cjson.decode(string.sub(decided, 2))) do
          if redis.call('HGET', KEYS[3], steps[1]) == req.q then table.insert(units, steps) end
        end
      end
    elseif req.ok then
      if stopped == nil then
        local flags = redis.call('HMGET', KEYS[4], 'halted', 'cancelRequested')
        stopped = flags[1] ~= false or flags[2] ~= false
      end
      -- The orchestrator has not decided anything else about this unit (a run of the job it
      -- already gave up on, e.g. failed by reconcile, claims nothing).
      if not stopped and redis.call('HGET', KEYS[3], req.s) == req.q then
        for _, follow in ipairs(req.u) do
          local ready = redis.call('HEXISTS', KEYS[3], follow.s[1]) == 0
          for _, parent in ipairs(follow.p) do
            if ready and parent ~= req.s then
              local other = redis.call('HGET', KEYS[5], req.j .. '|' .. parent)
              ready = other ~= false and string.sub(other, 1, 1) == '+'
              if ready then
                local state = redis.call('HGET', KEYS[3], parent) or ''
                local head = string.match(state, '^[^|]*')
                ready = state == req.q or head == 'done' or head == 'warned' or head == 'skipped'
              end
            end
          end
          if ready then
            local fields = {}
            for _, step in ipairs(follow.s) do
              table.insert(fields, step)
              table.insert(fields, req.q)
            end
            redis.call('HSET', KEYS[3], unpack(fields))
            table.insert(units, follow.s)
          end
        end
      end
    end
    if #units > 0 then claimed = cjson.encode(units) end
    if not decided then redis.call('HSET', KEYS[5], field, (req.ok and '+' or '-') .. claimed) end
  end
  if claimed ~= '' then
    redis.call('XADD', KEYS[2], '*', 'j', ARGV[i], 'r', ARGV[i + 1], 'c', claimed)
  else
    redis.call('XADD', KEYS[2], '*', 'j', ARGV[i], 'r', ARGV[i + 1])
  end
  table.insert(replies, claimed)
  i = i + 3
end
return replies
`;

/** Most entries' arguments in one append script (far below the limits of a JS call's arguments). */
const MAX_APPEND_ARGS = 4000;

/**
 * What a finished unit asks of its follow units (APPEND_SCRIPT): `j` its job's id and `s` its key
 * (the decision's field is `<j>|<s>`), `q` the step state of a claimed step (queued in the job),
 * `ok` whether the unit ended well, `u` the follows that wait for it: each one's steps (`s`) and the
 * keys of the units of the job it waits for (`p`, this one among them).
 */
export interface FollowClaim {
  j: string;
  s: string;
  q: string;
  ok: boolean;
  u: { s: string[]; p: string[] }[];
}

interface PendingAppends {
  events: string[];
  /** Triples: job id, result, claim request ('' for none). */
  completions: string[];
  /** `slot`: the completion's index in the script's reply, or -1 for events. */
  waiters: { slot: number; resolve: (claimed: string) => void; reject: (error: unknown) => void }[];
}

/** A writer of the execution streams that batches the appends made in the same tick. */
export interface StreamWriter {
  /** Append events (in order); resolves once they are in the stream. */
  appendEvents(events: readonly EngineEvent[]): Promise<void>;
  /**
   * Append a job's result to the completions stream, after every event appended before it, with
   * the claim of its follow units when given; resolves to the steps of the follows claimed.
   */
  publish(execution: string, jobId: string, result: unknown, claim?: FollowClaim): Promise<string[][]>;
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
          5,
          keys.events,
          keys.completions,
          keys.steps,
          keys.meta,
          keys.claims,
          String(appends.events.length),
          ...appends.events,
          ...appends.completions,
        )
        .then(
          (reply) => {
            const claimed = reply as string[];
            for (const waiter of appends.waiters) waiter.resolve(claimed[waiter.slot] ?? '');
          },
          (error: unknown) => {
            for (const waiter of appends.waiters) waiter.reject(error);
          },
        );
    }
  };

  const enqueue = (execution: string, add: (appends: PendingAppends) => number): Promise<string> => {
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
    const slot = add(appends);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    const target = appends;
    return new Promise<string>((resolve, reject) => target.waiters.push({ slot, resolve, reject }));
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
          enqueue(execution, (appends) => {
            appends.events.push(...list);
            return -1;
          }),
        ),
      );
    },
    publish: async (execution, jobId, result, claim) => {
      const claimed = await enqueue(execution, (appends) => {
        appends.completions.push(jobId, JSON.stringify(result), claim ? JSON.stringify(claim) : '');
        return appends.completions.length / 3 - 1;
      });
      return claimed === '' ? [] : (JSON.parse(claimed) as string[][]);
    },
  };
}
