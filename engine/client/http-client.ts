/**
 * ExecutionClient over the control plane's API (`drctl serve`, /api/v1): the same interface, the
 * same errors (problem+json read back into the engine's DrError codes and exit codes), so the CLI
 * prints and exits the same either way. A plan runs as a version stored in the vault: the client
 * uploads the YAML it read (`source`) and names the version by hash. Events come as a server-sent
 * event stream that the client resumes from the last id it got (Last-Event-ID) when it drops.
 */
import { DrError } from '../common/index.ts';
import {
  type AwaitedApproval,
  type ExecutionRecord,
  type LifecycleInfo,
  type LifecycleRunInfo,
  type OperatorReceipt,
  type PausedStep,
  parseEventEntry,
  type StoredEvent,
} from '../executor/index.ts';
import { PreflightBlockedError, type PreflightReport } from '../preflight/index.ts';
import { type ApiRequester, createApiRequester, problemError, unreachable } from './http-request.ts';
import { readSse } from './sse.ts';
import { withTrust } from './tls.ts';
import { bearerHeader, tokenFor } from './token.ts';
import type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  PreflightOptions,
  SubmitOptions,
  SubmitResult,
} from './types.ts';

const API = '/api/v1';

export interface HttpClientOptions {
  /** The control plane's base URL (engine/client serverUrlFrom). */
  server: string;
  /** @defaultValue createApiRequester(server, { token }) */
  request?: ApiRequester;
  /** The API token. @defaultValue tokenFor(server): DR_TOKEN, else the one `drctl up` wrote */
  token?: string;
  /** The CA certificates (PEM) an https server is trusted by. @defaultValue tls.ts's */
  ca?: string;
  /**
   * How long the event stream may stay down before `events` gives up (SERVER_UNREACHABLE); it
   * reconnects from the last event it got until then. @defaultValue 30_000
   */
  reconnectForMs?: number;
}

/** What `drctl status` and `drctl approve` read through the API beside the ExecutionClient. */
export interface HttpExecutionClient extends ExecutionClient {
  operatorWaits(id: string): Promise<{ paused: PausedStep[]; approvals: AwaitedApproval[] }>;
  lifecycle(id: string): Promise<{ failover?: LifecycleInfo; run?: LifecycleRunInfo }>;
  approveAction(
    id: string,
    action: string,
    options: { by: string; comment?: string; waitMs?: number },
  ): Promise<OperatorReceipt>;
}

const path = (id: string, tail = ''): string => `${API}/executions/${encodeURIComponent(id)}${tail}`;

export function createHttpExecutionClient(options: HttpClientOptions): HttpExecutionClient {
  const token = options.token ?? tokenFor(options.server);
  const request =
    options.request ??
    createApiRequester(options.server, {
      ...(token === undefined ? {} : { token }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
  const streams = new Set<AbortController>();

  /** The stored version the run names: the YAML uploaded first when the caller has it. */
  const planRef = async (o: PreflightOptions, hash?: string): Promise<{ name: string; hash: string }> => {
    const name = o.plan.metadata.name;
    if (o.source === undefined) {
      if (hash === undefined)
        throw new DrError(
          'NO_PLAN_SOURCE',
          `plan '${name}': give its YAML (source) to run it on the control plane`,
          {
            exitCode: 2,
          },
        );
      return { name, hash };
    }
    const uploaded = await request<{ version: { name: string; hash: string } }>('POST', `${API}/plans`, {
      body: { file: o.source.file, text: o.source.text },
    });
    if (hash !== undefined && uploaded.version.hash !== hash) {
      throw new DrError(
        'PLAN_HASH_MISMATCH',
        `plan '${name}': the control plane read ${o.source.file} as version ${uploaded.version.hash.slice(0, 12)}, this client as ${hash.slice(0, 12)}; run the same engine version on both sides`,
      );
    }
    return { name: uploaded.version.name, hash: uploaded.version.hash };
  };

  const checks = (o: PreflightOptions) => ({
    type: o.type,
    ...(o.direction === undefined ? {} : { direction: o.direction }),
    ...(o.selection === undefined ? {} : { selection: o.selection }),
    ...(o.recoveryPoint === undefined ? {} : { recoveryPoint: o.recoveryPoint }),
    ...(o.accept === undefined ? {} : { accept: o.accept }),
    ...(o.maxUtilization === undefined ? {} : { maxUtilization: o.maxUtilization }),
  });

  const submit = async (o: SubmitOptions): Promise<SubmitResult> => {
    if (o.automatic !== undefined || o.makeDurable !== undefined)
      throw new DrError(
        'AUTOMATIC_NOT_OVER_HTTP',
        'an automatic failover is submitted by the control plane itself (engine/control/auto), never through the HTTP API',
        { exitCode: 2 },
      );
    const body = {
      ...checks(o),
      plan: await planRef(o, o.hash),
      reason: o.reason,
      ...(o.recoveryPointGap === undefined ? {} : { recoveryPointGap: o.recoveryPointGap }),
      ...(o.approveManual ? { approveManual: true } : {}),
      ...(o.thenReprotect ? { thenReprotect: true } : {}),
    };
    try {
      return await request<SubmitResult>('POST', `${API}/executions`, { body });
    } catch (error) {
      const report = error instanceof DrError ? error.details.report : undefined;
      if (error instanceof DrError && error.code === 'PREFLIGHT_BLOCKED' && report !== undefined)
        throw new PreflightBlockedError(report as PreflightReport);
      throw error;
    }
  };

  async function* events(id: string, eventOptions: EventsOptions = {}): AsyncIterable<StoredEvent> {
    let after = eventOptions.after ?? '0';
    if (!eventOptions.follow) {
      // One JSON page after another: the log as it is now.
      for (;;) {
        const page = await request<{ events: StoredEvent[]; next?: string }>('GET', path(id, '/events'), {
          query: { after, limit: 1000 },
          headers: { accept: 'application/json' },
          ...(eventOptions.signal === undefined ? {} : { signal: eventOptions.signal }),
        });
        for (const stored of page.events)
          yield parseEventEntry(id, stored.id, ['e', JSON.stringify(stored.event)]);
        if (page.next === undefined || page.events.length < 1000) return;
        after = page.next;
      }
    }
    yield* follow(id, after, eventOptions.signal);
  }

  /** The SSE stream, reconnected from the last id until `end`, an abort, or too long without it. */
  async function* follow(id: string, from: string, signal?: AbortSignal): AsyncIterable<StoredEvent> {
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    signal?.addEventListener('abort', abort);
    streams.add(controller);
    let after = from;
    let retryMs = 1000;
    let downSince: number | undefined;
    try {
      while (!controller.signal.aborted) {
        let response: Response;
        try {
          const url = new URL(`${options.server}${path(id, '/events')}`);
          url.searchParams.set('follow', 'true');
          response = await fetch(
            url,
            withTrust(
              options.server,
              {
                headers: {
                  accept: 'text/event-stream',
                  ...bearerHeader(options.server, token),
                  ...(after === '0' ? {} : { 'last-event-id': after }),
                },
                signal: controller.signal,
              },
              options.ca,
            ),
          );
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error instanceof DrError) throw error;
          downSince ??= Date.now();
          if (Date.now() - downSince > (options.reconnectForMs ?? 30_000))
            throw unreachable(options.server, error);
          await sleep(retryMs, controller.signal);
          continue;
        }
        if (!response.ok || response.body === null) {
          throw problemError(response.status, await response.text(), `GET ${path(id, '/events')}`);
        }
        try {
          for await (const message of readSse(response.body)) {
            if (message.retry !== undefined) retryMs = message.retry;
            if (message.event === 'end') return;
            if (message.event === 'error') {
              const problem = JSON.parse(message.data) as { code?: string; message?: string };
              throw new DrError(
                problem.code ?? 'EVENTS_FAILED',
                problem.message ?? 'the event stream failed',
              );
            }
            if (message.id === undefined || message.data === '') continue;
            downSince = undefined;
            const stored = parseEventEntry(id, message.id, ['e', message.data]);
            after = stored.id;
            yield stored;
          }
        } catch (error) {
          if (error instanceof DrError || controller.signal.aborted) throw error;
          // The connection dropped mid-stream: reconnect from the last event.
        }
        if (controller.signal.aborted) return;
        downSince ??= Date.now();
        if (Date.now() - downSince > (options.reconnectForMs ?? 30_000))
          throw unreachable(options.server, new Error('the event stream keeps closing'));
        await sleep(retryMs, controller.signal);
      }
    } catch (error) {
      if (controller.signal.aborted) return; // the caller stopped following (or closed the client)
      throw error;
    } finally {
      signal?.removeEventListener('abort', abort);
      streams.delete(controller);
      controller.abort();
    }
  }

  return {
    submit,
    preflight: async (o) =>
      await request<PreflightReport>('POST', `${API}/executions:preflight`, {
        body: { ...checks(o), plan: await planRef(o), ...(o.exactPoints ? { exactPoints: true } : {}) },
      }),
    get: async (id, getOptions = {}) =>
      await request<ExecutionView>('GET', path(id), { query: { vms: getOptions.vms === true } }),
    list: async (listOptions = {}) =>
      (
        await request<{ executions: ExecutionRecord[] }>('GET', `${API}/executions`, {
          query: { limit: listOptions.limit ?? 20 },
        })
      ).executions,
    events,
    cleanup: async (id, cleanupOptions) =>
      await request<{ id: string; created: boolean }>('POST', path(id, '/cleanup'), {
        body: { reason: cleanupOptions.reason },
      }),
    approve: async (id, action, approveOptions = {}) =>
      (
        await request<OperatorReceipt>('POST', path(id, '/approvals'), {
          body: {
            action,
            ...(approveOptions.comment === undefined ? {} : { comment: approveOptions.comment }),
          },
        })
      ).step,
    approveAction: async (id, action, approveOptions) =>
      await request<OperatorReceipt>('POST', path(id, '/approvals'), {
        body: {
          action,
          ...(approveOptions.comment === undefined ? {} : { comment: approveOptions.comment }),
          ...(approveOptions.waitMs === undefined ? {} : { waitMs: approveOptions.waitMs }),
        },
      }),
    operatorWaits: async (id) => await request('GET', path(id, '/waits')),
    // The lifecycle routes' state of the execution (routes/lifecycle.ts), as `drctl status` reads it.
    lifecycle: async (id) => {
      const state = await request<{ type: string; lifecycle?: LifecycleInfo; run?: LifecycleRunInfo }>(
        'GET',
        path(id, '/lifecycle'),
      );
      const failover = state.type === 'planned' || state.type === 'unplanned';
      return {
        ...(failover && state.lifecycle !== undefined ? { failover: state.lifecycle } : {}),
        ...(state.run === undefined ? {} : { run: state.run }),
      };
    },
    close: async () => {
      for (const stream of streams) stream.abort();
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
