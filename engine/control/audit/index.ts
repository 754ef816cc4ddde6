export {
  type AuditEntry,
  type AuditGenesis,
  type AuditHead,
  type AuditInput,
  type AuditLog,
  type AuditVerdict,
  auditKeysOf,
  createAuditLog,
  hashEntry,
  SYSTEM_ACTOR,
  verifyAuditLog,
  writeAuditGenesis,
} from './log.ts';
export { type AuditSigner, auditKeyOf, ecdsaSigner, ephemeralAuditSigner } from './signer.ts';
