/**
 * What signs the audit chain's head. The interface is small so the vault's own key (issue 12's CA,
 * engine/control/vault) can take over: today an ECDSA P-256 key of its own, kept in the vault's
 * Redis at `<prefix>:vault:audit-key` (PKCS#8 PEM), created by the first control plane that needs it.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { Redis } from 'ioredis';

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

export const auditKeyOf = (prefix: string): string => `${prefix}:vault:audit-key`;

/** The vault's audit key: read, or created once (SET NX: concurrent control planes agree on one). */
export async function vaultAuditSigner(redis: Redis, prefix: string): Promise<AuditSigner> {
  const key = auditKeyOf(prefix);
  let pem = await redis.get(key);
  if (pem === null) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await redis.set(key, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'NX');
    pem = (await redis.get(key)) ?? '';
  }
  return ecdsaSigner(createPrivateKey(pem));
}
