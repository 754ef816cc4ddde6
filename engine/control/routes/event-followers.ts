/**
 * The followers of executions' event logs on one control plane share one blocking Redis connection:
 * one `XREAD BLOCK` over the streams of every followed execution hands each new event to every
 * follower of its execution. Before, each SSE follower opened its own connection, so 100
 * followers held 100 connections (and Redis's `maxclients` bounds them all).
 *
 * A follower registers first, then reads its backlog (`after` to now) on the shared connection, then
 * takes what the reader handed it since, skipping ids it already sent: nothing is missed between
 * the two. A follower that falls `maxQueued` events behind is ended with an error; an SSE client
 * reconnects from its Last-Event-ID.
 */
import type { Redis } from 'ioredis';
import { DrError, type Logger } from '../../common/index.ts';
import { executionKeys, parseEventEntry, readEvents, type StoredEvent } from '../../executor/index.ts';

export interface EventFollowersOptions {
  /** How long one XREAD waits before it starts again. @defaultValue 1000 */
  blockMs?: number;
  /** Events a follower may have waiting before it is ended as too slow. @defaultValue 10_000 */
  maxQueued?: number;
}

export interface EventFollowers {
  /** The execution's events after `after`, then each new one, until it finishes or `signal` aborts. */
  follow(execution: string, after: string, signal: AbortSignal): AsyncIterable<StoredEvent>;
  /** Executions followed now. */
  readonly followed: number;
  close(): Promise<void>;
}

interface Follower {
  push(events: readonly StoredEvent[]): void;
  fail(error: unknown): void;
}

interface Followed {
  key: string;
  /** The last id the reader has read of this stream. */
  cursor: string;
  followers: Set<Follower>;
}

const PAGE = 1000;

/** Stream ids in order ("<ms>-<seq>"). */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

export function createEventFollowers(
  redis: Redis,
  prefix: string,
  log: Logger,
  options: EventFollowersOptions = {},
): EventFollowers {
  const blockMs = options.blockMs ?? 1000;
  const maxQueued = options.maxQueued ?? 10_000;
  const followed = new Map<string, Followed>();
  let reader: Redis | undefined;
  let readerId: number | undefined;
  let loop: Promise<void> | undefined;
  let blocked = false;
  let closed = false;

  const read = async (): Promise<void> => {
    reader ??= redis.duplicate({ enableAutoPipelining: false });
    reader.on('error', (error: Error) => log.warn({ err: error.message }, 'event reader error'));
    readerId ??= Number(await reader.client('ID'));
    while (!closed && followed.size > 0) {
      const executions = [...followed.keys()];
      const streams = executions.map((id) => followed.get(id) as Followed);
      let reply: [string, [string, string[]][]][] | null;
      try {
        blocked = true;
        reply = (await reader.xread(
          'COUNT',
          PAGE,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...streams.map((s) => s.key),
          ...streams.map((s) => s.cursor),
        )) as typeof reply;
      } catch (error) {
        if (closed) return;
        for (const stream of followed.values()) for (const follower of stream.followers) follower.fail(error);
        followed.clear();
        return;
      } finally {
        blocked = false;
      }
      for (const [key, entries] of reply ?? []) {
        const i = streams.findIndex((s) => s.key === key);
        const execution = executions[i];
        const stream = streams[i];
        if (execution === undefined || stream === undefined || entries.length === 0) continue;
        stream.cursor = entries.at(-1)?.[0] ?? stream.cursor;
        let events: StoredEvent[];
        try {
          events = entries.map(([id, fields]) => parseEventEntry(execution, id, fields));
        } catch (error) {
          for (const follower of stream.followers) follower.fail(error);
          continue;
        }
        for (const follower of stream.followers) follower.push(events);
      }
    }
  };

  /** Read (again) now: a new stream joins the XREAD at once instead of after the current block. */
  const wake = (): void => {
    if (loop === undefined) {
      loop = read().finally(() => {
        loop = undefined;
        if (!closed && followed.size > 0) wake();
      });
      return;
    }
    if (blocked && readerId !== undefined) void redis.client('UNBLOCK', readerId).catch(() => {});
  };

  async function* follow(execution: string, after: string, signal: AbortSignal): AsyncIterable<StoredEvent> {
    if (closed) throw new DrError('CONTROL_CLOSING', 'the control plane is closing; reconnect to another');
    const key = executionKeys(prefix, execution).events;
    const queue: StoredEvent[] = [];
    let failure: unknown;
    let notify: (() => void) | undefined;
    const follower: Follower = {
      push: (events) => {
        if (failure !== undefined) return;
        queue.push(...events);
        if (queue.length > maxQueued) {
          queue.length = 0;
          failure = new DrError(
            'EVENTS_FOLLOWER_BEHIND',
            `this event stream of ${execution} fell ${maxQueued} events behind; reconnect from the last event id (Last-Event-ID)`,
            { retryable: true },
          );
        }
        notify?.();
      },
      fail: (error) => {
        failure ??= error;
        notify?.();
      },
    };
    let stream = followed.get(execution);
    if (stream === undefined) {
      const newest = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
      stream = followed.get(execution) ?? { key, cursor: newest[0]?.[0] ?? '0-0', followers: new Set() };
      followed.set(execution, stream);
    }
    stream.followers.add(follower);
    wake();
    const onAbort = (): void => notify?.();
    signal.addEventListener('abort', onAbort);
    try {
      let last = after;
      for (;;) {
        const page = await readEvents(redis, prefix, execution, { after: last, count: PAGE });
        for (const stored of page) {
          yield stored;
          last = stored.id;
          if (stored.event.type === 'execution-finished') return;
        }
        if (page.length < PAGE || signal.aborted) break;
      }
      while (!signal.aborted) {
        const stored = queue.shift();
        if (stored === undefined) {
          if (failure !== undefined) throw failure;
          await new Promise<void>((resolve) => {
            notify = resolve;
          });
          notify = undefined;
          continue;
        }
        if (compareIds(stored.id, last) <= 0) continue;
        yield stored;
        last = stored.id;
        if (stored.event.type === 'execution-finished') return;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.followers.delete(follower);
      if (stream.followers.size === 0 && followed.get(execution) === stream) followed.delete(execution);
    }
  }

  return {
    follow,
    get followed() {
      return followed.size;
    },
    close: async () => {
      closed = true;
      for (const stream of followed.values())
        for (const follower of stream.followers)
          follower.fail(new DrError('CONTROL_CLOSING', 'the control plane is closing; reconnect to another'));
      followed.clear();
      reader?.disconnect();
      await loop?.catch(() => {});
    },
  };
}
