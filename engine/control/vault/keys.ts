/** Where the vault's state lives in Redis, under the engine's prefix (shared by every control plane). */
export function vaultKeys(prefix: string) {
  const base = `${prefix}:vault`;
  return {
    /** JSON VaultCaRecord: the current CA (certificate, sealed key), those it replaced, the cross cert. */
    ca: `${base}:ca`,
    /** serial → site of every revoked certificate. */
    revoked: `${base}:revoked`,
    /** Pub/sub: a JSON `{ site, serials }` when certificates were revoked; `{ rotated: true }` at rotation. */
    channel: `${base}:events`,
    /** Registration key record by the key's SHA-256 (the key itself is never stored). */
    registration: (hash: string) => `${base}:reg:${hash}`,
    /** The hashes of a site's registration keys (what a revocation of the site deletes). */
    registrations: (site: string) => `${base}:regs:{${site}}`,
    /** Serials issued to a site's agents (what a revocation of the site revokes). */
    issued: (site: string) => `${base}:issued:{${site}}`,
    /** The site's current incarnation and the highest sequence number seen. */
    sequence: (site: string) => `${base}:seq:{${site}}`,
    /** Bitmap of the sequence numbers seen in the window below the highest. */
    window: (site: string) => `${base}:seqwin:{${site}}`,
    /** Incarnations a site's agents had (a hello of one of them again is stale). */
    incarnations: (site: string) => `${base}:incs:{${site}}`,
  };
}
