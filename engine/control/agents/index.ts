/** The control plane's side of the site agents: their routes, sessions and the step relay. */
export type { AgentHub, AgentHubOptions, RelayOptions } from './hub.ts';
export { agentHubOf } from './hub-of.ts';
export { agentKeys, agentSitesKey } from './keys.ts';
export { registerAgentRoutes } from './routes.ts';
export { type AgentSessionRecord, catalogWorker } from './sessions.ts';
