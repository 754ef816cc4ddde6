export {
  type AuditEntry,
  type AuditHead,
  type AuditInput,
  type AuditLog,
  type AuditVerdict,
  createAuditLog,
  hashEntry,
  SYSTEM_ACTOR,
  verifyAuditLog,
} from './log.ts';
export { type AuditSigner, auditKeyOf, ecdsaSigner, vaultAuditSigner } from './signer.ts';
