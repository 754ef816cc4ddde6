/**
 * `GET /api/v1/executions/:id/events`: the execution's event log (the timeline of record).
 *
 * As a server-sent-event stream (the default): one SSE message per stored event, `id:` its stream
 * id, `event:` its type, `data:` the event as JSON; resumed after `Last-Event-ID` (or `?after=`),
 * so a client that reconnects gets every event once. With `follow` (the default) the stream stays
 * open until the execution finishes; it ends with an `end` message, after which a client does not
 * reconnect. With `batch`, the events are coalesced (sse-batch.ts): `event: batch` messages, at
 * most 10 a second, each the array of the events since the last. With `Accept: application/json`: one page of events as JSON, no waiting. Followers
 * share one blocking Redis connection per control plane (event-followers.ts).
 */
import { z } from 'zod';
import type { ExecutionClient } from '../../client/index.ts';
import { DrError, InputError } from '../../common/index.ts';
import { loadExecution, readEvents } from '../../executor/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { asBuilt } from './as-built.ts';
import { createEventFollowers, type EventFollowers } from './event-followers.ts';
import { ExecutionIdParams, isStreamIdInRange, StoredEventSchema, streamIdSchema } from './schemas.ts';
import { createPacer, openEventStream, writeBatches } from './sse-batch.ts';

const STREAM_ID = /^(0|\d+-\d+)$/;
/** Codes of a follow that ends for the client to reconnect, not to fail. */
const RECONNECT = new Set(['CONTROL_CLOSING', 'EVENTS_FOLLOWER_BEHIND']);
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

const EventsQuery = z.object({
  after: streamIdSchema().optional(),
  follow: z.stringbool().default(true).describe('SSE: stay open until the execution finishes'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000).describe('JSON: at most this many events'),
  batch: z
    .stringbool()
    .default(false)
    .describe(
      "SSE: coalesce into `event: batch` messages (`data:` a JSON array of events, `id:` the last one's), at most 10 a second",
    ),
});

const EventPageSchema = z
  .object({
    events: z.array(StoredEventSchema),
    next: z.string().optional().describe('the last id of this page: pass it as ?after= for the next'),
  })
  .meta({ id: 'EventPage' });

export function registerEventRoutes(app: ControlApp, ctx: ControlContext, client: ExecutionClient): void {
  const followers = createEventFollowers(ctx.redis, ctx.prefix, ctx.log.child({ part: 'events' }));
  // Before the close waits for open streams: ending the followers ends their streams.
  app.addHook('preClose', async () => await followers.close());
  app.get(
    '/executions/:id/events',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'The event log: a server-sent-event stream resumable by Last-Event-ID, or JSON pages',
        description:
          "text/event-stream (default): `id:` stream id, `event:` event type, `data:` the event; ends with `event: end`. With batch=1: `event: batch`, `data:` a JSON array of events, `id:` the last one's, at most 10 messages a second. Accept: application/json gives one page ({ events, next }).",
        params: ExecutionIdParams,
        querystring: EventsQuery,
        headers: z.object({
          'last-event-id': streamIdSchema().optional(),
          accept: z.string().optional(),
        }),
        response: {
          200: {
            content: {
              'application/json': { schema: EventPageSchema },
              'text/event-stream': { schema: z.string().describe('id: / event: / data: messages') },
            },
          },
          400: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const after = request.headers['last-event-id'] ?? request.query.after ?? '0';
      await loadExecution(ctx.redis, ctx.prefix, id); // a 404 problem before any stream starts
      if (wantsJson(request.headers.accept)) {
        const events = await readEvents(ctx.redis, ctx.prefix, id, { after, count: request.query.limit });
        const last = events.at(-1)?.id;
        return reply.type('application/json').send({ events, ...(last === undefined ? {} : { next: last }) });
      }
      await streamEvents(reply, client, followers, id, after, request.query, request.id, ctx);
      return reply;
    },
  );
}

function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.includes('application/json') && !accept.includes('text/event-stream');
}

async function streamEvents(
  reply: import('fastify').FastifyReply,
  client: ExecutionClient,
  followers: EventFollowers,
  id: string,
  after: string,
  query: { follow: boolean; batch: boolean },
  requestId: string,
  ctx: ControlContext,
): Promise<void> {
  const { follow, batch } = query;
  if (!STREAM_ID.test(after) || !isStreamIdInRange(after))
    throw new InputError('BAD_EVENT_ID', `"${after}" is not a stream id`);
  const { raw, controller, write } = openEventStream(reply, ctx);
  const keepalive = setInterval(() => void write(': keepalive\n\n'), KEEPALIVE_MS);
  // Batched: every message (the batches, then the end or an error) in its own slot.
  const pacer = batch ? createPacer() : { slot: async () => {} };
  try {
    await write('retry: 1000\n\n');
    const events = follow
      ? followers.follow(id, after, controller.signal)
      : client.events(id, { after, signal: controller.signal });
    if (batch) {
      await writeBatches(events, {
        idOf: (stored) => stored.id,
        dataOf: (stored) => stored.event,
        write,
        signal: controller.signal,
        pacer,
      });
    } else {
      for await (const stored of events) {
        await write(
          `id: ${stored.id}\nevent: ${stored.event.type}\ndata: ${JSON.stringify(stored.event)}\n\n`,
        );
        if (controller.signal.aborted) break;
      }
    }
    await pacer.slot();
    await write('event: end\ndata: {}\n\n');
  } catch (error) {
    // Closing, or this follower fell behind: the stream just ends, and the client reconnects from
    // its last id (to this control plane or another).
    if (error instanceof DrError && RECONNECT.has(error.code)) return;
    // Headers are gone: say it in the stream, then close; the client reconnects from its last id.
    // Only a DrError's message is meant for a client; anything else (Redis's own text) is logged.
    const known = error instanceof DrError;
    const message = known
      ? error.message
      : `internal error (request ${requestId}); the control plane's log has the details`;
    const code = known ? error.code : 'INTERNAL';
    if (!known) reply.log.error({ err: error, execution: id }, 'event stream failed');
    await pacer.slot();
    await write(`event: error\ndata: ${JSON.stringify({ code, message })}\n\n`);
  } finally {
    clearInterval(keepalive);
    raw.end();
  }
}
