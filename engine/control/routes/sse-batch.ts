/**
 * Server-sent events coalesced for a page: whatever arrives while a message waits for its slot is
 * sent together as one `event: batch` message (`data:` a JSON array, `id:` the last item's id), at
 * most one message per `intervalMs` (100 ms: 10 a second) per stream, so a 10,000-VM failover's
 * 10^5 events reach the page as a few dozen messages instead of a main thread flooded by them.
 * The source is read no faster than batches go out (`maxBatch` waiting at most), so a follower's
 * own back-pressure (event-followers.ts, maxQueued) still holds for a slow client.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ControlContext } from '../context.ts';

/** @defaultValue 100 ms: at most 10 messages a second. */
export const BATCH_INTERVAL_MS = 100;
/** Items one batch holds at most. @defaultValue 10_000 */
export const MAX_BATCH = 10_000;

/** One stream's pace: each message waits for its slot, `intervalMs` after the one before. */
export interface Pacer {
  slot(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createPacer(intervalMs = BATCH_INTERVAL_MS): Pacer {
  let last = Number.NEGATIVE_INFINITY;
  return {
    slot: async () => {
      const wait = last + intervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      last = Date.now();
    },
  };
}

export function sseMessage(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Send `source` as batches through `write`, each in its slot of `pacer`, until it ends or `signal`
 * aborts. A failure of the source is thrown once what was read before it is sent; the caller
 * writes its `end` or `error` message in the pacer's next slot.
 */
export async function writeBatches<T>(
  source: AsyncIterable<T>,
  options: {
    idOf: (item: T) => string;
    dataOf?: (item: T) => unknown;
    write: (text: string) => Promise<void>;
    signal: AbortSignal;
    pacer: Pacer;
    maxBatch?: number;
  },
): Promise<void> {
  const maxBatch = options.maxBatch ?? MAX_BATCH;
  const dataOf = options.dataOf ?? ((item: T) => item);
  let pending: T[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  const iterator = source[Symbol.asyncIterator]();
  const onAbort = (): void => {
    wake?.();
    room?.();
  };
  options.signal.addEventListener('abort', onAbort);
  const pump = (async () => {
    try {
      while (!options.signal.aborted) {
        while (pending.length >= maxBatch && !options.signal.aborted)
          await new Promise<void>((resolve) => {
            room = resolve;
          });
        if (options.signal.aborted) break;
        const next = await iterator.next();
        if (next.done === true) break;
        pending.push(next.value);
        wake?.();
      }
    } catch (error) {
      failure = error;
    } finally {
      done = true;
      wake?.();
    }
  })();
  try {
    while (!options.signal.aborted) {
      if (pending.length === 0) {
        if (done) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      await options.pacer.slot();
      const batch = pending;
      pending = [];
      room?.();
      room = undefined;
      const lastItem = batch[batch.length - 1] as T;
      await options.write(sseMessage('batch', batch.map(dataOf), options.idOf(lastItem)));
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    if (options.signal.aborted) await iterator.return?.().catch(() => {});
    else await pump;
  }
  if (failure !== undefined) throw failure;
}

/** A hijacked reply turned into a server-sent-event stream (events.ts, stream.ts). */
export interface EventStream {
  readonly raw: ServerResponse;
  /** Aborted when the client goes. */
  readonly controller: AbortController;
  /** Write, waiting for the socket to drain; nothing once the client has gone. */
  write(text: string): Promise<void>;
}

/**
 * Hijack `reply` into an event stream: the SSE headers, an abort when the client goes, a write that
 * honours back-pressure, and the stream ends with its token (or the session standing for it) when
 * that is revoked or expires (auth/streams.ts).
 */
export function openEventStream(reply: FastifyReply, ctx: ControlContext): EventStream {
  reply.hijack();
  const raw = reply.raw;
  const token = reply.request.auth?.token;
  if (token !== undefined) ctx.tokenStreams?.track(token, raw);
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const controller = new AbortController();
  raw.on('close', () => controller.abort());
  const write = async (text: string): Promise<void> => {
    if (controller.signal.aborted) return;
    if (!raw.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          raw.off('drain', done);
          raw.off('close', done);
          resolve();
        };
        raw.on('drain', done);
        raw.on('close', done);
      });
    }
  };
  return { raw, controller, write };
}
