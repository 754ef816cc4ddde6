/**
 * What makes an agent's message its own (issue 12): every request on `/api/v1/agents/:site/*`
 * carries the agent's incarnation (new at each start) and a sequence number within it, and its
 * send time (the control plane measures clock skew by it, never refuses on it). A heartbeat, the
 * lease renewal a peer site may relay (automatic failover), is also signed with the agent's key
 * (ECDSA P-256, SHA-256) over `signedText`, so that whoever relays it cannot change it and anyone
 * holding the vault's CA certificates can verify it (`verifyAgentSignature`).
 */
import { createHash, createPublicKey, type KeyObject, sign, verify, X509Certificate } from 'node:crypto';
import stringify from 'safe-stable-stringify';

export const AGENT_HEADERS = {
  incarnation: 'x-drorch-incarnation',
  seq: 'x-drorch-seq',
  sentAt: 'x-drorch-sent-at',
  signature: 'x-drorch-signature',
} as const;

/** The URI SAN an agent certificate names its site by. */
export const SITE_URI_PREFIX = 'urn:drorch:site:';

export interface AgentMessageStamp {
  site: string;
  incarnation: string;
  seq: number;
  /** The agent's clock, ms since the epoch. */
  sentAt: number;
}

/** The text a signature covers: the stamp and the SHA-256 of the body's canonical JSON. */
export function signedText(stamp: AgentMessageStamp, body: unknown): string {
  const digest = createHash('sha256')
    .update(stringify(body ?? null) ?? 'null')
    .digest('base64url');
  return `drorch-agent-message/v1\n${stamp.site}\n${stamp.incarnation}\n${stamp.seq}\n${stamp.sentAt}\n${digest}`;
}

export function signAgentMessage(key: KeyObject, stamp: AgentMessageStamp, body: unknown): string {
  return sign('sha256', Buffer.from(signedText(stamp, body)), key).toString('base64url');
}

/** The site an agent certificate is for (its `urn:drorch:site:` URI), or undefined. */
export function siteOfCertificate(certificate: X509Certificate): string | undefined {
  for (const name of (certificate.subjectAltName ?? '').split(/,\s*/)) {
    if (name.startsWith(`URI:${SITE_URI_PREFIX}`)) return name.slice(`URI:${SITE_URI_PREFIX}`.length);
  }
  return undefined;
}

export type SignatureCheck =
  | { ok: true; site: string }
  | { ok: false; reason: 'untrusted' | 'expired' | 'wrong-site' | 'bad-signature'; detail: string };

/**
 * Whether `signature` is `certificate`'s agent's over this message: the certificate is issued by
 * one of `trusted` (the vault's CA certificates, PEM), valid at `now`, for `stamp.site`, and the
 * signature verifies with its key. What a peer site relays is checked with this alone.
 */
export function verifyAgentSignature(options: {
  certificate: string | X509Certificate;
  trusted: readonly (string | X509Certificate)[];
  stamp: AgentMessageStamp;
  body: unknown;
  signature: string;
  now?: number;
}): SignatureCheck {
  const cert =
    typeof options.certificate === 'string' ? new X509Certificate(options.certificate) : options.certificate;
  const issued = options.trusted.some((ca) => {
    const authority = typeof ca === 'string' ? new X509Certificate(ca) : ca;
    return cert.checkIssued(authority) && cert.verify(authority.publicKey);
  });
  if (!issued)
    return { ok: false, reason: 'untrusted', detail: 'the certificate is not one the vault issued' };
  const now = options.now ?? Date.now();
  if (now > Date.parse(cert.validTo) || now < Date.parse(cert.validFrom)) {
    return {
      ok: false,
      reason: 'expired',
      detail: `the certificate is valid ${cert.validFrom} to ${cert.validTo}`,
    };
  }
  const site = siteOfCertificate(cert);
  if (site !== options.stamp.site) {
    return {
      ok: false,
      reason: 'wrong-site',
      detail: `the certificate is for site ${site ?? 'none'}, the message for ${options.stamp.site}`,
    };
  }
  return verifySignatureWith(cert.publicKey, options.stamp, options.body, options.signature)
    ? { ok: true, site }
    : {
        ok: false,
        reason: 'bad-signature',
        detail: 'the signature does not verify with the certificate key',
      };
}

export function verifySignatureWith(
  key: KeyObject | string,
  stamp: AgentMessageStamp,
  body: unknown,
  signature: string,
): boolean {
  const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
  try {
    return verify(
      'sha256',
      Buffer.from(signedText(stamp, body)),
      publicKey,
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}
