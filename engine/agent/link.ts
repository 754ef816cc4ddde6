/**
 * The agent's one link to the control plane: JSON over HTTP (engine/client node-request.ts: keep-alive
 * node:http, the same answers and errors as the CLI's requester),
 * outbound only, every answer parsed with the protocol's schemas (engine/contract agent-protocol.ts).
 * The link holds the session a hello opened; a call that finds it unknown to the control plane (its
 * vault lost it) says hello again and repeats once. Transient failures (control plane restarting,
 * unreachable) are retried with a growing pause until the call's signal aborts; what the control
 * plane refused (4xx) is thrown as the DrError it sent.
 */
import { randomBytes } from 'node:crypto';
import type https from 'node:https';
import { z } from 'zod';
import type { ApiRequester } from '../client/http-request.ts';
import { createNodeApiRequester } from '../client/node-request.ts';
import { AGENT_HEADERS, DrError, type Logger, signAgentMessage, stripControlDeep } from '../common/index.ts';
import {
  type AgentHello,
  type AgentMemoCall,
  type AgentSession,
  type ExecutionEvent,
  failedOverReplySchema,
  type HandedUnit,
  helloReplySchema,
  memoReplySchema,
  pollReplySchema,
  resultsReplySchema,
  type SignedRenewal,
  type UnitProgress,
  type UnitReport,
} from '../contract/index.ts';
import type { SweepRecord } from '../executor/index.ts';
import { type AgentIdentity, renewIdentity, tlsAgentOf } from './identity.ts';

export interface AgentLink {
  readonly site: string;
  /** The current session (after `hello`). */
  readonly session: AgentSession | undefined;
  hello(): Promise<AgentSession>;
  heartbeat(body: {
    running: string[];
    hostsSeenAt?: string;
    scriptCatalog?: AgentHello['scriptCatalog'];
  }): Promise<{ sendCatalog: boolean }>;
  poll(max: number, waitMs: number, signal: AbortSignal): Promise<HandedUnit[]>;
  postResults(
    results: UnitReport[],
    progress?: UnitProgress[],
  ): Promise<{ accepted: number; duplicates: number }>;
  memo(
    unit: string,
    step: string,
    call: AgentMemoCall['call'],
    signal: AbortSignal,
  ): Promise<z.infer<typeof memoReplySchema>>;
  failedOver(vms: readonly string[]): Promise<Map<string, SweepRecord>>;
  diverged(event: ExecutionEvent): Promise<void>;
  /** This agent process's incarnation (new at every start): every message carries it. */
  readonly incarnation: string;
  /** The control plane's API with this link's TLS identity and message stamps (reporters use it). */
  readonly request: ApiRequester;
  /** The vault identity in use (undefined over plain HTTP). */
  readonly identity: AgentIdentity | undefined;
  /** Renew the client certificate (same key); later requests use the new one. */
  renewCertificate(): Promise<AgentIdentity>;
  /**
   * A lease renewal signed with the agent's key, stamped from the link's own sequence (so the
   * control plane's replay window covers it whichever path brings it): what the peer site's agent
   * relays and the arbiter takes. Undefined without a vault identity or before the first hello.
   */
  signRenewal(renewal: number): SignedRenewal | undefined;
}

const heartbeatReply = z.object({ ok: z.literal(true), sendCatalog: z.boolean() });
const okReply = z.object({ ok: z.literal(true) });

export interface LinkOptions {
  server: string;
  /** What the hello says (site, agent id, version, catalog); the catalog is read at each hello. */
  hello: () => Promise<AgentHello>;
  log: Logger;
  /**
   * The agent's vault identity (identity.ts): its requests go over mTLS with it, stamped with
   * incarnation and sequence, heartbeats signed. Required for an https server.
   */
  identity?: AgentIdentity;
}

/** Codes of a control plane that is not there right now (retried), as the requester throws them. */
function transient(error: unknown): boolean {
  return error instanceof DrError && (error.retryable || error.code === 'SERVER_UNREACHABLE');
}

export function createAgentLink(options: LinkOptions): AgentLink {
  if (options.server.startsWith('https:') && options.identity === undefined) {
    throw new DrError(
      'AGENT_NOT_REGISTERED',
      `an agent needs its vault certificate to reach ${options.server} (drctl agent --register <key>)`,
      {
        exitCode: 2,
      },
    );
  }
  let identity = options.identity;
  let tlsAgent: https.Agent | undefined = identity === undefined ? undefined : tlsAgentOf(identity);
  const incarnation = `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
  let seq = 0;
  const stamp = (_method: string, path: string, body: unknown): Record<string, string> => {
    const message = { site: identity?.site ?? site, incarnation, seq: seq++, sentAt: Date.now() };
    const headers: Record<string, string> = {
      [AGENT_HEADERS.incarnation]: incarnation,
      [AGENT_HEADERS.seq]: String(message.seq),
      [AGENT_HEADERS.sentAt]: String(message.sentAt),
    };
    if (identity !== undefined && path.endsWith('/heartbeat')) {
      headers[AGENT_HEADERS.signature] = signAgentMessage(identity.key, message, body ?? null);
    }
    return headers;
  };
  const request = createNodeApiRequester(options.server, {
    ...(tlsAgent === undefined ? {} : { agent: () => tlsAgent as https.Agent }),
    headers: stamp,
  });
  let session: AgentSession | undefined;
  let site = '';
  let helloing: Promise<AgentSession> | undefined;

  const hello = (): Promise<AgentSession> => {
    helloing ??= (async () => {
      const body = await options.hello();
      site = body.site;
      const reply = helloReplySchema.parse(
        await request<unknown>('POST', `/api/v1/agents/${encodeURIComponent(body.site)}/hello`, { body }),
      );
      session = reply;
      options.log.info(
        { site, controlVersion: reply.controlVersion },
        'session opened with the control plane',
      );
      return reply;
    })().finally(() => {
      helloing = undefined;
    });
    return helloing;
  };

  /** POST with the session; retried while transient, once again after a new hello. */
  const call = async <T>(
    path: string,
    body: Record<string, unknown>,
    schema: z.ZodType<T>,
    signal?: AbortSignal,
    retry = true,
  ): Promise<T> => {
    let pause = 100;
    for (let renewed = false; ; ) {
      const current = session ?? (await hello());
      try {
        const reply = await request<unknown>('POST', `/api/v1/agents/${encodeURIComponent(site)}/${path}`, {
          // What a host or a script said may carry control characters the control plane refuses.
          body: stripControlDeep({ session: current.session, ...body }),
          ...(signal === undefined ? {} : { signal }),
        });
        return schema.parse(reply);
      } catch (error) {
        if (signal?.aborted) throw error;
        if (error instanceof DrError && error.code === 'UNKNOWN_SESSION' && !renewed) {
          renewed = true;
          session = undefined;
          continue;
        }
        if (!retry || !transient(error)) throw error;
        options.log.debug({ err: (error as Error).message, path }, 'control plane not answering; retrying');
        await sleep(pause, signal);
        pause = Math.min(pause * 2, 2000);
      }
    }
  };

  const renewCertificate = async (): Promise<AgentIdentity> => {
    if (identity === undefined)
      throw new DrError('AGENT_NOT_REGISTERED', 'this agent has no vault certificate to renew');
    const renewed = await renewIdentity(identity, (path, body) => request('POST', path, { body }));
    const previous = tlsAgent;
    identity = renewed;
    tlsAgent = tlsAgentOf(renewed);
    // Requests under way on the old certificate's connections finish; then they go.
    setTimeout(() => previous?.destroy(), 70_000).unref();
    options.log.info(
      { serial: renewed.serial, notAfter: new Date(renewed.notAfter).toISOString() },
      'agent certificate renewed',
    );
    return renewed;
  };

  return {
    incarnation,
    request,
    get identity() {
      return identity;
    },
    renewCertificate,
    signRenewal: (renewal) => {
      if (identity === undefined || session === undefined) return undefined;
      const body = { session: session.session, renewal };
      const message = { site: identity.site, incarnation, seq: seq++, sentAt: Date.now() };
      return {
        stamp: message,
        body,
        signature: signAgentMessage(identity.key, message, body),
        certificate: identity.certificate,
      };
    },
    get site() {
      return site;
    },
    get session() {
      return session;
    },
    hello,
    heartbeat: (body) => call('heartbeat', body, heartbeatReply, undefined, false),
    poll: async (max, waitMs, signal) =>
      (await call('units:poll', { max, waitMs }, pollReplySchema, signal)).units,
    postResults: (results, progress = []) =>
      call(
        'results',
        { results, ...(progress.length > 0 ? { progress } : {}) },
        resultsReplySchema,
        undefined,
        false,
      ),
    memo: (unit, step, memoCall, signal) =>
      call('memo', { unit, step, call: memoCall }, memoReplySchema, signal),
    failedOver: async (vms) => {
      const reply = await call('failed-over', { vms: [...vms] }, failedOverReplySchema, undefined, false);
      return new Map(Object.entries(reply.records));
    },
    diverged: async (event) => {
      await call('divergences', { events: [event] }, okReply, undefined, false);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
