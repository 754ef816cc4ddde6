/**
 * The vault's certificate authority as the control plane uses it. State: one JSON record in Redis
 * (`<prefix>:vault:ca`, the CA certificate and its key sealed by sealed.ts, the CAs it replaced and
 * the cross certificate of a rotation) plus the key file in the vault folder, so every control plane
 * that has the same key file and Redis issues and checks the same certificates.
 */
import type { X509Certificate as NodeX509 } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import { auditKeyOf, auditKeysOf } from '../audit/index.ts';
import { createAuditKey, openSealedAuditKey } from './audit-key.ts';
import { vaultKeys } from './keys.ts';
import {
  createCa,
  crossSign,
  csrPublicKey,
  exportPkcs8,
  fingerprint,
  type IssuerKeys,
  importPkcs8,
  issueClientCertificate,
  issueServerCertificate,
  pkcs8Pem,
  x509,
} from './pki.ts';
import {
  consumeRegistrationKey,
  deleteUnusedRegistrationKeys,
  parseRegistrationKey,
} from './registration.ts';
import { readKek, seal, unseal } from './sealed.ts';

/** An agent's certificate lives this long unless the control plane is told otherwise. */
export const DEFAULT_CLIENT_CERT_LIFETIME_MS = 12 * 3_600_000;
/** An expired certificate may still renew (with its key) for this long. */
export const RENEWAL_GRACE_MS = 7 * 86_400_000;

const recordSchema = z.object({
  version: z.literal(1),
  current: z.object({ certificate: z.string(), sealedKey: z.string(), serial: z.string() }),
  previous: z.array(z.string()),
  cross: z.string().optional(),
  createdAt: z.string(),
  rotatedAt: z.string().optional(),
});
export type VaultCaRecord = z.infer<typeof recordSchema>;

/** The files of a vault folder. */
export function vaultFiles(dir: string) {
  return { kek: join(dir, 'vault.key'), ca: join(dir, 'ca.pem') };
}

export interface IssuedCertificate {
  /** PEM of the client certificate. */
  certificate: string;
  /** PEMs the agent trusts the control plane by (current CA, cross certificate, previous CAs). */
  ca: string[];
  serial: string;
  expiresAt: string;
}

export interface Vault {
  readonly prefix: string;
  /** The CA certificates a client certificate may chain to (current first). */
  readonly trusted: readonly string[];
  /** The chain a server presents after its own certificate (the cross certificate, if rotated). */
  readonly chain: readonly string[];
  readonly caFingerprint: string;
  readonly clientLifetimeMs: number;
  /** A TLS certificate and key (PEM) for the control plane, for these names. */
  serverCredentials(names: readonly string[]): Promise<{ cert: string; key: string }>;
  /** Trade a registration key and a CSR for a client certificate of `site`. */
  register(site: string, key: string, csrPem: string): Promise<IssuedCertificate>;
  /** A new certificate for the key of `presented` (checked by the caller: site, CA, grace). */
  renew(site: string, presented: NodeX509, csrPem: string): Promise<IssuedCertificate>;
}

async function readRecord(redis: Redis, prefix: string): Promise<VaultCaRecord | undefined> {
  const raw = await redis.get(vaultKeys(prefix).ca);
  if (raw === null) return undefined;
  const parsed = recordSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) {
    throw new DrError(
      'VAULT_CORRUPT',
      `the vault's CA record in Redis (${vaultKeys(prefix).ca}) is not one written by drctl`,
      {
        exitCode: 1,
      },
    );
  }
  return parsed.data;
}

function notInitialized(prefix: string): DrError {
  return new DrError(
    'VAULT_NOT_INITIALIZED',
    `no vault under prefix '${prefix}' in this Redis: run \`drctl vault init\` first (or \`drctl vault restore\` from a backup)`,
    { exitCode: 2 },
  );
}

async function openIssuer(record: VaultCaRecord, kek: Buffer): Promise<IssuerKeys> {
  const certificate = new x509.X509Certificate(record.current.certificate);
  const der = unseal(kek, record.current.sealedKey, record.current.serial);
  return { certificate, privateKey: await importPkcs8(der) };
}

async function sealIssuer(ca: IssuerKeys, kek: Buffer): Promise<VaultCaRecord['current']> {
  const serial = ca.certificate.serialNumber;
  return {
    certificate: ca.certificate.toString('pem'),
    sealedKey: seal(kek, await exportPkcs8(ca.privateKey), serial),
    serial,
  };
}

function writeCaFile(dir: string, record: VaultCaRecord): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = vaultFiles(dir).ca;
  writeFileSync(file, [record.current.certificate, ...record.previous].join('\n'));
  chmodSync(file, 0o644);
}

export interface InitResult {
  caFingerprint: string;
  caFile: string;
  keyFile: string;
  /** The first admin token, when the caller gave a way to make one. */
  adminToken?: string;
}

/**
 * `drctl vault init`: a new CA under `prefix`, its key sealed with the key file of `dir` (created
 * 0600 when missing), `ca.pem` written beside it. Refused when the prefix has a vault already.
 */
export async function initVault(options: {
  redis: Redis;
  prefix: string;
  dir: string;
  /** The first admin token (engine/control/auth makes it): called once the CA exists. */
  firstAdminToken?: () => Promise<string>;
  now?: Date;
}): Promise<InitResult> {
  const { redis, prefix, dir } = options;
  const files = vaultFiles(dir);
  const kek = readKek(files.kek, true);
  const ca = await createCa(`drorch vault ${prefix}`, options.now);
  const record: VaultCaRecord = {
    version: 1,
    current: await sealIssuer(ca, kek),
    previous: [],
    createdAt: (options.now ?? new Date()).toISOString(),
  };
  const set = await redis.set(vaultKeys(prefix).ca, JSON.stringify(record), 'NX');
  if (set !== 'OK') {
    const existing = await readRecord(redis, prefix);
    // The same vault again (same key file): nothing to do but say so.
    if (existing !== undefined) {
      unseal(kek, existing.current.sealedKey, existing.current.serial);
      throw new DrError(
        'VAULT_EXISTS',
        `a vault exists already under prefix '${prefix}' (created ${existing.createdAt}); \`drctl vault rotate\` replaces its CA key`,
        { exitCode: 2 },
      );
    }
  }
  writeCaFile(dir, record);
  // The audit log's key, sealed as the CA key is, and its genesis: from now on an emptied log shows.
  await createAuditKey(redis, prefix, kek, dir);
  const adminToken = options.firstAdminToken === undefined ? undefined : await options.firstAdminToken();
  return {
    caFingerprint: await fingerprint(ca.certificate),
    caFile: files.ca,
    keyFile: files.kek,
    ...(adminToken === undefined ? {} : { adminToken }),
  };
}

/**
 * `drctl vault rotate`: a new CA key and certificate become the issuer; the old CA stays trusted
 * (certificates it issued keep working until they renew, now from the new CA) and signs a cross
 * certificate of the new one, which servers send in their chain so agents that trust only the old
 * CA still trust the control plane. Running control planes pick the new CA up (pub/sub).
 */
export async function rotateVault(options: {
  redis: Redis;
  prefix: string;
  dir: string;
  keep?: number;
}): Promise<{
  caFingerprint: string;
  previous: number;
}> {
  const { redis, prefix, dir } = options;
  const kek = readKek(vaultFiles(dir).kek);
  const record = await readRecord(redis, prefix);
  if (record === undefined) throw notInitialized(prefix);
  const old = await openIssuer(record, kek);
  const fresh = await createCa(`drorch vault ${prefix} ${new Date().toISOString().slice(0, 10)}`);
  const cross = await crossSign(fresh.certificate, old);
  const next: VaultCaRecord = {
    version: 1,
    current: await sealIssuer(fresh, kek),
    previous: [record.current.certificate, ...record.previous].slice(0, options.keep ?? 2),
    cross: cross.toString('pem'),
    createdAt: record.createdAt,
    rotatedAt: new Date().toISOString(),
  };
  await redis.set(vaultKeys(prefix).ca, JSON.stringify(next));
  await redis.publish(vaultKeys(prefix).channel, JSON.stringify({ rotated: true }));
  writeCaFile(dir, next);
  return { caFingerprint: await fingerprint(fresh.certificate), previous: next.previous.length };
}

/**
 * `drctl vault backup`: the CA record as it is in Redis (the key in it is sealed), the audit log's
 * signing key (sealed too) and the log's genesis, to `file` (0600): restored, the vault still
 * verifies its log. A key an earlier version left in clear is refused: opening the vault once
 * (`drctl serve`, `drctl audit --verify`) seals it.
 */
export async function backupVault(options: {
  redis: Redis;
  prefix: string;
  file: string;
}): Promise<VaultCaRecord> {
  const record = await readRecord(options.redis, options.prefix);
  if (record === undefined) throw notInitialized(options.prefix);
  const [auditKey, auditGenesis] = await options.redis.mget(
    auditKeyOf(options.prefix),
    auditKeysOf(options.prefix).genesis,
  );
  if (auditKey?.startsWith('-----BEGIN')) {
    throw new DrError(
      'AUDIT_KEY_IN_CLEAR',
      `the audit log's key of prefix '${options.prefix}' is still in clear (an earlier version): run \`drctl audit --verify --vault-dir <dir>\` once to seal it, then back up`,
      { exitCode: 1 },
    );
  }
  const backup = {
    drorchVaultBackup: 1,
    prefix: options.prefix,
    record,
    ...(auditKey === null ? {} : { auditKey }),
    ...(auditGenesis === null ? {} : { auditGenesis }),
  };
  writeFileSync(options.file, `${JSON.stringify(backup, null, 2)}\n`, { mode: 0o600 });
  chmodSync(options.file, 0o600);
  return record;
}

const backupSchema = z.object({
  drorchVaultBackup: z.literal(1),
  record: recordSchema,
  auditKey: z.string().optional(),
  auditGenesis: z.string().optional(),
});

/**
 * `drctl vault restore`: the record of a backup back into Redis, once the key file of `dir` opens
 * it, with the audit log's key and genesis it holds (the key must open with the same key file).
 * Refused over another vault, or another audit key, unless `force`; a genesis in Redis is kept.
 */
export async function restoreVault(options: {
  redis: Redis;
  prefix: string;
  dir: string;
  file: string;
  force?: boolean;
}): Promise<VaultCaRecord> {
  let text: unknown;
  try {
    text = JSON.parse(readFileSync(options.file, 'utf8'));
  } catch {
    text = undefined;
  }
  const raw = backupSchema.safeParse(text);
  if (!raw.success) {
    throw new DrError('BAD_BACKUP', `${options.file} is not a backup \`drctl vault backup\` wrote`, {
      exitCode: 2,
    });
  }
  const { record, auditKey, auditGenesis } = raw.data;
  const kek = readKek(vaultFiles(options.dir).kek);
  await openIssuer(record, kek);
  if (auditKey !== undefined) openSealedAuditKey(kek, options.prefix, auditKey);
  const existing = await readRecord(options.redis, options.prefix);
  if (existing !== undefined && existing.current.serial !== record.current.serial && !options.force) {
    throw new DrError(
      'VAULT_EXISTS',
      `prefix '${options.prefix}' holds another vault (CA serial ${existing.current.serial}); restore over it with --force`,
      { exitCode: 2 },
    );
  }
  const existingKey = await options.redis.get(auditKeyOf(options.prefix));
  if (auditKey !== undefined && existingKey !== null && existingKey !== auditKey && !options.force) {
    throw new DrError(
      'AUDIT_KEY_EXISTS',
      `prefix '${options.prefix}' holds another audit log key than the backup's; restore over it with --force (the log it signed would no longer verify)`,
      { exitCode: 2 },
    );
  }
  await options.redis.set(vaultKeys(options.prefix).ca, JSON.stringify(record));
  if (auditKey !== undefined) await options.redis.set(auditKeyOf(options.prefix), auditKey);
  if (auditGenesis !== undefined)
    await options.redis.set(auditKeysOf(options.prefix).genesis, auditGenesis, 'NX');
  await options.redis.publish(vaultKeys(options.prefix).channel, JSON.stringify({ rotated: true }));
  writeCaFile(options.dir, record);
  return record;
}

/** The CA fingerprint a registration key pins, without opening the CA key (drctl site register). */
export async function vaultFingerprint(redis: Redis, prefix: string): Promise<string> {
  const record = await readRecord(redis, prefix);
  if (record === undefined) throw notInitialized(prefix);
  return fingerprint(new x509.X509Certificate(record.current.certificate));
}

/** Revocation of every certificate issued to `site`'s agents, atomically with issuing (renew checks). */
const REVOKE_SITE = `
local serials = redis.call('SMEMBERS', KEYS[1])
for _, s in ipairs(serials) do redis.call('HSET', KEYS[2], s, ARGV[1]) end
redis.call('DEL', KEYS[1])
return serials
`;
/** Record an issued serial unless the one it renews was revoked meanwhile. */
const RECORD_ISSUED = `
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`;

export async function revokeSite(redis: Redis, prefix: string, site: string): Promise<string[]> {
  const keys = vaultKeys(prefix);
  // Its keys not used yet first: none registers an agent once the site is revoked.
  await deleteUnusedRegistrationKeys(redis, prefix, site);
  const serials = (await redis.eval(REVOKE_SITE, 2, keys.issued(site), keys.revoked, site)) as string[];
  await redis.publish(keys.channel, JSON.stringify({ site, serials }));
  return serials;
}

/** Open the vault for a control plane: the CA key unsealed in memory. */
export async function openVault(options: {
  redis: Redis;
  prefix: string;
  dir: string;
  /** @defaultValue DEFAULT_CLIENT_CERT_LIFETIME_MS (12 h) */
  clientLifetimeMs?: number;
  /** The server certificate's lifetime (it is issued anew at each start). @defaultValue 30 days */
  serverLifetimeMs?: number;
}): Promise<Vault> {
  const { redis, prefix } = options;
  const kek = readKek(vaultFiles(options.dir).kek);
  const record = await readRecord(redis, prefix);
  if (record === undefined) throw notInitialized(prefix);
  const issuer = await openIssuer(record, kek);
  const trusted = [record.current.certificate, ...record.previous];
  const chain = record.cross === undefined ? [] : [record.cross];
  const bundle = [...trusted, ...chain];
  const caFingerprint = await fingerprint(issuer.certificate);
  const clientLifetimeMs = options.clientLifetimeMs ?? DEFAULT_CLIENT_CERT_LIFETIME_MS;
  const keys = vaultKeys(prefix);

  const issue = async (site: string, csrPem: string, renewing: string): Promise<IssuedCertificate> => {
    const publicKey = await csrPublicKey(csrPem);
    const certificate = await issueClientCertificate(issuer, site, publicKey, clientLifetimeMs);
    const serial = certificate.serialNumber;
    const recorded = await redis.eval(RECORD_ISSUED, 2, keys.issued(site), keys.revoked, serial, renewing);
    if (Number(recorded) !== 1) throw revokedError(site);
    return {
      certificate: certificate.toString('pem'),
      ca: bundle,
      serial,
      expiresAt: certificate.notAfter.toISOString(),
    };
  };

  return {
    prefix,
    trusted,
    chain,
    caFingerprint,
    clientLifetimeMs,
    serverCredentials: async (names) => {
      const { certificate, privateKey } = await issueServerCertificate(
        issuer,
        names,
        options.serverLifetimeMs ?? 30 * 86_400_000,
      );
      return {
        cert: [certificate.toString('pem'), ...chain].join('\n'),
        key: pkcs8Pem(await exportPkcs8(privateKey)),
      };
    },
    register: async (site, key, csrPem) => {
      const parsed = parseRegistrationKey(key);
      if (parsed.site !== site) {
        throw new DrError(
          'REGISTRATION_KEY_OTHER_SITE',
          `the registration key is for site ${parsed.site}, not ${site}`,
          {
            exitCode: 2,
            details: { status: 401, site },
          },
        );
      }
      // The CSR first: a bad one leaves the key unused.
      await csrPublicKey(csrPem);
      await consumeRegistrationKey(redis, prefix, site, parsed);
      return issue(site, csrPem, '');
    },
    renew: async (site, presented, csrPem) => {
      const publicKey = await csrPublicKey(csrPem);
      const spki = Buffer.from(publicKey.rawData);
      const presentedSpki = presented.publicKey.export({ type: 'spki', format: 'der' });
      if (!spki.equals(presentedSpki)) {
        throw new DrError(
          'RENEWAL_KEY_CHANGED',
          `a renewal for site ${site} must be for the key of the certificate it is made with; register again (\`drctl site register ${site}\`) to change keys`,
          { exitCode: 2, details: { status: 403, site } },
        );
      }
      return issue(site, csrPem, presented.serialNumber.toLowerCase());
    },
  };
}

export function revokedError(site: string): DrError {
  return new DrError(
    'CLIENT_CERT_REVOKED',
    `the agent certificate of site ${site} was revoked (\`drctl site revoke ${site}\`); register the agent again with a new key from \`drctl site register ${site}\``,
    { exitCode: 2, details: { status: 403, site } },
  );
}
