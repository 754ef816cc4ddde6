/**
 * The lifecycle client through the control plane (`--server` / DR_SERVER): the same operations
 * and reads as the in-process client, over /api/v1. A refusal comes back as the engine's DrError
 * (http-request.ts); a blocking pre-flight as the same LifecycleBlockedError or
 * PreflightBlockedError, rebuilt from its report, so the command prints it as it would in process.
 */
import { DrError } from '../common/index.ts';
import type { StoredEvent } from '../executor/index.ts';
import {
  LifecycleBlockedError,
  type LifecycleReport,
  PreflightBlockedError,
  type PreflightReport,
} from '../preflight/index.ts';
import { type ApiRequester, createApiRequester } from './http-request.ts';
import type { FailoverTarget } from './lifecycle.ts';
import type { LifecycleClient } from './lifecycle-client.ts';
import type { LifecycleState } from './lifecycle-state.ts';
import type { EventsOptions, ExecutionView } from './types.ts';

/** How often a follower asks for new events when the last page was empty. @defaultValue 250 */
const EVENT_POLL_MS = 250;

const API = '/api/v1';

export function createHttpLifecycleClient(server: string, request?: ApiRequester): LifecycleClient {
  const call = request ?? createApiRequester(server);
  const enc = encodeURIComponent;
  const post = async <T>(path: string, body: unknown): Promise<T> => {
    try {
      return await call<T>('POST', `${API}${path}`, { body });
    } catch (error) {
      throw blocked(error);
    }
  };
  const targetPath = (target: FailoverTarget, what: string): string =>
    'failover' in target
      ? `/executions/${enc(target.failover)}/${what}`
      : `/plans/${enc(target.plan)}/${what}`;
  const fileOf = (target: FailoverTarget) =>
    'plan' in target && target.file !== undefined ? { file: target.file } : {};

  async function* events(id: string, options: EventsOptions = {}): AsyncIterable<StoredEvent> {
    let after = options.after ?? '0';
    for (;;) {
      if (options.signal?.aborted) return;
      const page = await call<{ events: StoredEvent[] }>(
        'GET',
        `${API}/executions/${enc(id)}/lifecycle/events`,
        {
          query: { after },
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
      ).catch((error: unknown) => {
        if (error instanceof DrError && error.code === 'ABORTED') return { events: [] };
        throw error;
      });
      for (const stored of page.events) {
        yield stored;
        after = stored.id;
        if (stored.event.type === 'execution-finished') return;
      }
      if (!options.follow) return;
      if (page.events.length === 0) await new Promise((r) => setTimeout(r, EVENT_POLL_MS));
    }
  }

  return {
    executions: {
      get: (id, options = {}) =>
        call<ExecutionView>('GET', `${API}/executions/${enc(id)}/lifecycle/view`, {
          query: { vms: options.vms === true },
        }),
      events,
    },
    commit: (failover, ask) => post(`/executions/${enc(failover)}/commit`, withoutBy(ask)),
    changePoint: (failover, ask) => post(`/executions/${enc(failover)}/change-point`, withoutBy(ask)),
    cancel: (failover, ask) => post(`/executions/${enc(failover)}/cancel`, withoutBy(ask)),
    reprotect: (target, ask) => {
      const { discardDiverged, ...rest } = withoutBy(ask);
      return post(targetPath(target, 'reprotect'), {
        ...rest,
        ...fileOf(target),
        ...(discardDiverged === undefined
          ? {}
          : {
              discardDiverged: {
                vms: discardDiverged.vms,
                reason: discardDiverged.reason,
                ...(discardDiverged.givenAt === undefined ? {} : { givenAt: discardDiverged.givenAt }),
              },
            }),
      });
    },
    failback: (target, ask) =>
      post(targetPath(target, 'failback'), {
        ...(ask.reason === undefined ? {} : { reason: ask.reason }),
        ...(ask.text === undefined ? {} : { plan: ask.text }),
        ...fileOf(target),
        ...(ask.approveManual ? { approveManual: true } : {}),
        thenReprotect: ask.thenReprotect ?? true,
      }),
    step: (ask) =>
      post(`/executions/${enc(ask.execution)}/steps/${enc(ask.step)}/${ask.command}`, {
        reason: ask.reason,
        ...(ask.waitMs === undefined ? {} : { waitMs: ask.waitMs }),
      }),
    state: async (id, options = {}) => {
      try {
        return await call<LifecycleState>('GET', `${API}/executions/${enc(id)}/lifecycle`, {
          query: { resync: options.resync === true },
        });
      } catch (error) {
        if (error instanceof DrError && error.code === 'EXECUTION_NOT_FOUND') return undefined;
        throw error;
      }
    },
    close: async () => {},
  };
}

/**
 * The ask without `by`: over the API who asks is the token's owner, which the control plane
 * records; the direct path's `by` (the OS user) is not sent.
 */
function withoutBy<T extends { by?: string }>(ask: T): Omit<T, 'by'> {
  const { by: _by, ...rest } = ask;
  return rest;
}

/** A blocking pre-flight's problem, as the error the engine threw (its report travels in details). */
function blocked(error: unknown): unknown {
  if (!(error instanceof DrError) || error.code !== 'PREFLIGHT_BLOCKED') return error;
  const report = error.details.report;
  if (typeof report !== 'object' || report === null) return error;
  return error.details.kind === 'lifecycle'
    ? new LifecycleBlockedError(report as LifecycleReport)
    : new PreflightBlockedError(report as PreflightReport);
}
