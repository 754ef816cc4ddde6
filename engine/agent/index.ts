/** The site agent's public door: start one (drctl agent), and the hook reporters plug into. */
export {
  type Agent,
  type AgentOptions,
  type AgentReporter,
  type AgentReporterContext,
  startAgent,
} from './agent.ts';
export {
  type Contacts,
  type FailsafeConfig,
  type FailsafeDecision,
  failsafeConfigIssue,
  failsafeDecision,
} from './failsafe.ts';
export {
  type AgentIdentity,
  identityFiles,
  loadIdentity,
  registerAgent,
  renewalAt,
  renewIdentity,
} from './identity.ts';
export { type InventoryReporter, startInventoryReporter } from './inventory.ts';
export { type InventoryAgentOptions, inventoryReporter } from './inventory-agent.ts';
export { type AgentLink, createAgentLink } from './link.ts';
export { probeAlive, probeTcp, startPeerListener, witnessVerdict } from './peer.ts';
export {
  checkSiteLeaseOptions,
  type SelfFence,
  type SiteLease,
  type SiteLeaseOptions,
  startSiteLease,
} from './site-lease.ts';
