/**
 * One agent hub per control plane context: startControlPlane configures it before the routes are
 * mounted, the routes find the same one, and a bare app (tests, `buildControlApp`) gets one with
 * the defaults.
 */
import type { ControlContext } from '../context.ts';
import { type AgentHub, type AgentHubOptions, createAgentHub } from './hub.ts';

const hubs = new WeakMap<ControlContext, AgentHub>();

export function agentHubOf(ctx: ControlContext, options?: AgentHubOptions): AgentHub {
  let hub = hubs.get(ctx);
  if (hub === undefined) {
    hub = createAgentHub(ctx.redis, ctx.prefix, ctx.log.child({ part: 'agents' }), options);
    hubs.set(ctx, hub);
  }
  return hub;
}
