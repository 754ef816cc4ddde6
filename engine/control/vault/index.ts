/** The vault's door: its CA (init, open, rotate, backup, restore), registration keys, the agents' gate. */

export { createAuditKey, openAuditSigner } from './audit-key.ts';
export {
  AGENT_ROUTE_PREFIX,
  type AgentTrust,
  createAgentTrust,
  guardAgentRoutes,
  type Principal,
  RENEW_ROUTE,
  refusedAtGate,
} from './guard.ts';
export { vaultKeys } from './keys.ts';
export {
  consumeRegistrationKey,
  createRegistrationKey,
  DEFAULT_REGISTRATION_TTL_MS,
  parseRegistrationKey,
  type RegistrationKey,
} from './registration.ts';
export { vaultRoutes } from './routes.ts';
export { checkSequence, SEQUENCE_WINDOW, type SequenceStatus } from './sequence.ts';
export {
  backupVault,
  DEFAULT_CLIENT_CERT_LIFETIME_MS,
  type InitResult,
  type IssuedCertificate,
  initVault,
  openVault,
  RENEWAL_GRACE_MS,
  restoreVault,
  revokeSite,
  rotateVault,
  type Vault,
  type VaultCaRecord,
  vaultFiles,
  vaultFingerprint,
} from './vault.ts';
