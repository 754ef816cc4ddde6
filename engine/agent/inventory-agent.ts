/**
 * The agent's inventory reporter (inventory.ts) as an AgentReporter: it starts with the agent's
 * link, posts its batches to the control plane, and sweeps at once when pre-flight asks the vault
 * for fresh data (the refresh long poll, `GET /api/v1/agents/:site/inventory/refresh`).
 */
import { AGENT_SESSION_HEADER } from '../contract/index.ts';
import type { AgentReporter } from './agent.ts';
import { startInventoryReporter } from './inventory.ts';

/** How long one refresh poll waits at the control plane before it asks again. */
const REFRESH_POLL_MS = 25_000;

export interface InventoryAgentOptions {
  /** Every VM is sent at least once per cycle. @defaultValue 30_000 */
  cycleMs?: number;
  /** How often the site is read for changes. @defaultValue cycleMs / 6 */
  pollMs?: number;
}

export function inventoryReporter(options: InventoryAgentOptions = {}): AgentReporter {
  return {
    name: 'inventory',
    start: (ctx) => {
      const { request } = ctx;
      const reporter = startInventoryReporter({
        driver: ctx.api,
        site: ctx.site,
        // The link's current session (a new one after a hello again): the vault takes a site's
        // inventory from the agent that holds its session only.
        post: (path, body) =>
          request('POST', path, {
            body,
            signal: ctx.signal,
            headers: { [AGENT_SESSION_HEADER]: ctx.link.session?.session ?? '' },
          }),
        log: ctx.log,
        ...(options.cycleMs === undefined ? {} : { cycleMs: options.cycleMs }),
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      });
      // Stopped with the agent's signal, before that signal cuts its post short.
      ctx.signal.addEventListener('abort', () => void reporter.close(), { once: true });
      const path = `/api/v1/agents/${encodeURIComponent(ctx.site)}/inventory/refresh`;
      const refreshes = (async () => {
        let pause = 100;
        while (!ctx.signal.aborted) {
          try {
            const asked = await request<{ refresh: boolean }>('GET', path, {
              query: { waitMs: REFRESH_POLL_MS },
              signal: ctx.signal,
            });
            pause = 100;
            if (asked.refresh) await reporter.refreshNow();
          } catch (error) {
            if (ctx.signal.aborted) return;
            ctx.log.debug({ err: (error as Error).message }, 'refresh poll failed; asking again');
            await new Promise((resolve) => setTimeout(resolve, pause));
            pause = Math.min(pause * 2, 5000);
          }
        }
      })();
      return {
        stop: async () => {
          await reporter.close();
          await refreshes;
        },
      };
    },
  };
}
