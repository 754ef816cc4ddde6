/**
 * What signs the audit chain's head: an ECDSA P-256 key of the vault's, kept in Redis at
 * `<prefix>:vault:audit-key` sealed with the vault's key file as the CA key is
 * (engine/control/vault/audit-key.ts opens it).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';

export interface AuditSigner {
  /** Names the key, kept with each signature (a rotated key still verifies the old heads). */
  readonly keyId: string;
  sign(data: Buffer): Promise<string>;
  verify(data: Buffer, signature: string): Promise<boolean>;
}

/** An AuditSigner over one P-256 key pair (signatures IEEE P1363, base64url). */
export function ecdsaSigner(privateKey: KeyObject): AuditSigner {
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const keyId = `p256:${Buffer.from(der).toString('base64url').slice(-16)}`;
  return {
    keyId,
    sign: async (data) =>
      sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url'),
    verify: async (data, signature) => {
      try {
        return verify(
          'sha256',
          data,
          { key: publicKey, dsaEncoding: 'ieee-p1363' },
          Buffer.from(signature, 'base64url'),
        );
      } catch {
        return false;
      }
    },
  };
}

/** Where the vault keeps the audit key, sealed (engine/control/vault/audit-key.ts). */
export const auditKeyOf = (prefix: string): string => `${prefix}:vault:audit-key`;

/**
 * A signer whose key lives in this process only: for a control plane built without a vault
 * through the internal API (in-process tests); no command builds one.
 */
export function ephemeralAuditSigner(): AuditSigner {
  return ecdsaSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}
