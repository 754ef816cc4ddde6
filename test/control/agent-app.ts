/**
 * The control plane's app with every route (controlRoutes) over the run's Redis under a unique
 * prefix, in this process, for the agent-route suites: what they all set up the same way, with a
 * hello as a site's agent says it.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  agentHubOf,
  buildControlApp,
  CONTROL_VERSION,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

type Reply = Awaited<ReturnType<ControlApp['inject']>>;

export interface AgentControl {
  readonly ctx: ControlContext;
  readonly redis: Redis;
  /** The app (after `start`). */
  readonly app: ControlApp;
  start(): Promise<void>;
  /** Listen on a free loopback port: the base URL. */
  listen(): Promise<string>;
  /** A JSON POST through app.inject. */
  post(url: string, payload: unknown): Promise<Reply>;
  /** A hello for `site` as its agent `agent-<site>` of this version says it; `more` overrides. */
  hello(site: string, more?: Record<string, unknown>): Promise<Reply>;
  /** The session a hello for `site` opens. */
  session(site: string): Promise<string>;
  close(): Promise<void>;
}

export function agentControl(label: string): AgentControl {
  const redis = testRedisClient();
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix(label),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };
  let app: ControlApp | undefined;
  const started = (): ControlApp => {
    if (app === undefined) throw new Error('agentControl: start() first');
    return app;
  };
  const post = (url: string, payload: unknown) =>
    started().inject({ method: 'POST', url, payload: payload as object });
  const hello = (site: string, more: Record<string, unknown> = {}) =>
    post(`/api/v1/agents/${site}/hello`, {
      site,
      agentId: `agent-${site}`,
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
      ...more,
    });
  return {
    ctx,
    redis,
    get app() {
      return started();
    },
    start: async () => {
      app = await buildControlApp(ctx, { routes: controlRoutes });
    },
    listen: () => started().listen({ host: '127.0.0.1', port: 0 }),
    post,
    hello,
    session: async (site) => {
      const reply = await hello(site);
      if (reply.statusCode !== 200) throw new Error(`hello for ${site}: ${reply.statusCode} ${reply.body}`);
      return reply.json().session as string;
    },
    close: async () => {
      await agentHubOf(ctx).close(1000);
      await app?.close();
      redis.disconnect();
    },
  };
}

/** An agentControl started before the suite's tests and closed after them. */
export function useAgentControl(label: string): AgentControl {
  const control = agentControl(label);
  beforeAll(() => control.start());
  afterAll(() => control.close());
  return control;
}
