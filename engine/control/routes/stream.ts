/**
 * `GET /api/v1/stream`: the dashboard's overview pages live, as one server-sent-event stream
 * batched as the execution streams are (sse-batch.ts: `event: batch`, at most 10 a second). Each
 * item is the new state of one thing, to upsert by its key:
 * - `{ kind: 'site', site, lease?, leaseLeftMs?, agent?, version?, live?, heartbeatAt? }`: the
 *   monitor's lease state and the agent's heartbeat (the page ages `heartbeatAt` by its own clock;
 *   a new heartbeat is sent at most every `HEARTBEAT_EVERY_MS`);
 * - `{ kind: 'execution', id, plan, type, status, stepsDone, stepsTotal }`: the newest executions;
 * - `{ kind: 'vm', site, vm, health }`: a VM's replication health (Normal, Warning, Critical, or
 *   null without replication) from the agents' inventory, read again when a site's batch lands;
 * - `{ kind: 'synced' }`: the items before it are the whole state now (a new stream's first batch).
 *
 * One watcher per control plane reads those sources every `tickMs` while someone listens and keeps
 * the changes in a ring; a stream starts with every current item (a page needs no other read),
 * and a reconnect whose `Last-Event-ID` is still in this control plane's ring gets only what it
 * missed (another control plane's id, or one too old: every current item again).
 */
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../../common/index.ts';
import { executionKeys, globalKeys } from '../../executor/index.ts';
import { agentHubOf } from '../agents/index.ts';
import { type ListScope, listScopeOf } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { createInventoryStore, decodeVm } from '../inventory/index.ts';
import { readSiteLeases } from '../monitor/index.ts';
import { ProblemSchema } from '../problem.ts';
import { createPacer, openEventStream, sseMessage, writeBatches } from './sse-batch.ts';

export type StreamItem =
  | {
      kind: 'site';
      site: string;
      lease?: string;
      leaseLeftMs?: number;
      agent?: string;
      version?: string;
      live?: boolean;
      heartbeatAt?: string;
    }
  | {
      kind: 'execution';
      id: string;
      plan: string;
      type: string;
      status: string;
      stepsDone: number;
      stepsTotal: number;
    }
  | { kind: 'vm'; site: string; vm: string; health: string | null }
  /** After every current item of a new stream: what came before it is the whole state now. */
  | { kind: 'synced' };

interface Change {
  id: string;
  item: StreamItem;
}

/** A site's heartbeat is sent again at most this often (its age is the page's to count). */
export const HEARTBEAT_EVERY_MS = 5_000;
/** Executions the stream tells of: the newest. */
const EXECUTIONS = 100;
/** Changes kept for reconnects. */
const RING = 20_000;

function keyOf(item: StreamItem): string {
  switch (item.kind) {
    case 'site':
      return `s|${item.site}`;
    case 'execution':
      return `e|${item.id}`;
    case 'vm':
      return `v|${item.site}|${item.vm}`;
    case 'synced':
      return 'synced';
  }
}

/** Equal for the stream's purpose: a site's heartbeat counts only when it is HEARTBEAT_EVERY_MS newer. */
function same(a: StreamItem, b: StreamItem): boolean {
  if (a.kind === 'site' && b.kind === 'site') {
    const { heartbeatAt: ah, leaseLeftMs: _al, ...ar } = a;
    const { heartbeatAt: bh, leaseLeftMs: _bl, ...br } = b;
    if (JSON.stringify(ar) !== JSON.stringify(br)) return false;
    if (ah === undefined || bh === undefined) return ah === bh;
    return Math.abs(Date.parse(bh) - Date.parse(ah)) < HEARTBEAT_EVERY_MS;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface DashboardWatcher {
  /** Every current item then each change, after `lastId` when it is this watcher's. */
  follow(lastId: string | undefined, signal: AbortSignal): AsyncIterable<Change>;
  /** Read the sources now (the watcher's tick; tests call it). */
  tick(): Promise<void>;
  close(): void;
}

export function createDashboardWatcher(
  ctx: Pick<ControlContext, 'redis' | 'prefix'> & { log: Logger },
  readSites: () => Promise<StreamItem[]>,
  options: { tickMs?: number } = {},
): DashboardWatcher {
  const { redis, prefix } = ctx;
  const boot = `${Date.now()}`;
  let seq = 0;
  const current = new Map<string, Change>();
  const ring: Change[] = [];
  const listeners = new Set<() => void>();
  const inventorySeq = new Map<string, number>();
  const inventory = createInventoryStore(redis, prefix);
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let closed = false;

  const put = (item: StreamItem): void => {
    const key = keyOf(item);
    const before = current.get(key);
    if (before !== undefined && same(before.item, item)) return;
    seq += 1;
    const change = { id: `${boot}-${seq}`, item };
    current.set(key, change);
    ring.push(change);
    if (ring.length > RING) ring.splice(0, ring.length - RING);
  };

  const read = async (): Promise<void> => {
    for (const item of await readSites()) put(item);
    for (const item of await readExecutions(redis, prefix)) put(item);
    for (const site of await inventory.sites()) {
      const meta = await inventory.meta(site);
      if (!meta.complete || inventorySeq.get(site) === meta.seq) continue;
      inventorySeq.set(site, meta.seq);
      const records = await inventory.readSite(site);
      const now = Date.now();
      for (const [vm, text] of Object.entries(records.vms)) {
        put({ kind: 'vm', site, vm, health: decodeVm(site, vm, text, now).replication?.health ?? null });
      }
    }
  };

  const tick = async (): Promise<void> => {
    ticking ??= read()
      .catch((error: unknown) => ctx.log.warn({ err: error }, 'dashboard stream: could not read the state'))
      .finally(() => {
        ticking = undefined;
        for (const listener of listeners) listener();
      });
    await ticking;
  };

  const schedule = (): void => {
    if (closed || timer !== undefined || listeners.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void tick().finally(schedule);
    }, options.tickMs ?? 1000);
  };

  async function* follow(lastId: string | undefined, signal: AbortSignal): AsyncIterable<Change> {
    let wake: (() => void) | undefined;
    const listener = (): void => wake?.();
    listeners.add(listener);
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      if (current.size === 0) await tick();
      schedule();
      const [bootOf, seqOf] = (lastId ?? '').split('-');
      const at = Number(seqOf);
      const oldest = ring[0] === undefined ? Number.POSITIVE_INFINITY : Number(ring[0].id.split('-')[1]);
      let sent = 0;
      if (bootOf === boot && Number.isSafeInteger(at) && at + 1 >= oldest) {
        sent = at;
      } else {
        // Every current item, in the order it last changed; then the changes after the newest.
        const items = [...current.values()].sort((a, b) => changeSeq(a) - changeSeq(b));
        for (const change of items) yield change;
        sent = seq;
        yield { id: `${boot}-${sent}`, item: { kind: 'synced' } };
      }
      while (!signal.aborted && !closed) {
        const from = ring.findIndex((change) => changeSeq(change) > sent);
        if (from !== -1) {
          for (const change of ring.slice(from)) {
            yield change;
            sent = changeSeq(change);
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      listeners.delete(listener);
    }
  }

  return {
    follow,
    tick,
    close: () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const listener of listeners) listener();
    },
  };
}

const changeSeq = (change: Change): number => Number(change.id.split('-')[1]);

async function readExecutions(redis: Redis, prefix: string): Promise<StreamItem[]> {
  const ids = await redis.zrevrange(globalKeys(prefix).executions, 0, EXECUTIONS - 1);
  const rows = await Promise.all(
    ids.map((id) =>
      redis.hmget(executionKeys(prefix, id).meta, 'planName', 'type', 'status', 'stepsDone', 'stepsTotal'),
    ),
  );
  const items: StreamItem[] = [];
  ids.forEach((id, i) => {
    const [plan, type, status, done, total] = rows[i] ?? [];
    if (plan === null || plan === undefined || status === null || status === undefined) return;
    items.push({
      kind: 'execution',
      id,
      plan,
      type: type ?? '',
      status,
      stepsDone: Number(done ?? 0),
      stepsTotal: Number(total ?? 0),
    });
  });
  return items;
}

export function registerStreamRoutes(app: ControlApp, ctx: ControlContext): void {
  const hub = agentHubOf(ctx);
  const readSites = async (): Promise<StreamItem[]> => {
    const [sites, leases] = await Promise.all([hub.sessions.list(), readSiteLeases(ctx.redis, ctx.prefix)]);
    const names = new Set([...sites.map((s) => s.site), ...leases.keys()]);
    return [...names].sort().map((site) => {
      const agent = sites.find((s) => s.site === site);
      const lease = leases.get(site);
      return {
        kind: 'site',
        site,
        ...(lease === undefined ? {} : { lease: lease.state, leaseLeftMs: lease.leaseLeftMs }),
        ...(agent === undefined
          ? {}
          : {
              agent: agent.agentId,
              version: agent.version,
              live: agent.live,
              heartbeatAt: agent.heartbeatAt,
            }),
      };
    });
  };
  const watcher = createDashboardWatcher(
    { ...ctx, log: ctx.log.child({ part: 'dashboard-stream' }) },
    readSites,
  );
  // Before the close waits for open streams: their followers end.
  app.addHook('preClose', async () => watcher.close());
  app.get(
    '/stream',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          "The dashboard's live overview: sites, executions and VM health as batched server-sent events",
        description:
          '`event: batch`, `data:` a JSON array of items ({ kind: site | execution | vm, … }, each the new state of one thing), `id:` resumable by Last-Event-ID; at most 10 messages a second. A new stream starts with every current item, then `{ kind: synced }`.',
        headers: z.object({ 'last-event-id': z.string().max(64).optional() }),
        response: {
          200: { content: { 'text/event-stream': { schema: z.string() } } },
          401: ProblemSchema,
          403: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const scope = listScopeOf(request, ctx);
      const follow = (lastId: string | undefined, signal: AbortSignal) =>
        scope === undefined ? watcher.follow(lastId, signal) : inScope(watcher.follow(lastId, signal), scope);
      await streamChanges(reply, follow, request.headers['last-event-id'], ctx);
      return reply;
    },
  );
}

/**
 * A scoped token's stream: the items of its sites, its plans' executions and its sites' VMs only
 * (auth/visible.ts); an execution's scope is looked up once per stream.
 */
export async function* inScope(changes: AsyncIterable<Change>, scope: ListScope): AsyncGenerator<Change> {
  const executions = new Map<string, Promise<boolean>>();
  const keep = async (item: StreamItem): Promise<boolean> => {
    switch (item.kind) {
      case 'site':
      case 'vm':
        return await scope.site(item.site);
      case 'execution': {
        let seen = executions.get(item.id);
        if (seen === undefined) {
          seen = scope.execution({ id: item.id, planName: item.plan });
          executions.set(item.id, seen);
        }
        return await seen;
      }
      case 'synced':
        return true;
    }
  };
  for await (const change of changes) if (await keep(change.item)) yield change;
}

async function streamChanges(
  reply: FastifyReply,
  follow: (lastId: string | undefined, signal: AbortSignal) => AsyncIterable<Change>,
  lastId: string | undefined,
  ctx: ControlContext,
) {
  const { raw, controller, write } = openEventStream(reply, ctx);
  const keepalive = setInterval(() => void write(': keepalive\n\n'), 15_000);
  const pacer = createPacer();
  try {
    await write('retry: 1000\n\n');
    await writeBatches(follow(lastId, controller.signal), {
      idOf: (change) => change.id,
      dataOf: (change) => change.item,
      write,
      signal: controller.signal,
      pacer,
    });
    await pacer.slot();
    await write(sseMessage('end', {}));
  } finally {
    clearInterval(keepalive);
    raw.end();
  }
}
