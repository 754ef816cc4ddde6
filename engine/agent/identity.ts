/**
 * The agent's identity with the vault (issue 12): its own ECDSA P-256 key, made here and never
 * sent anywhere (a 0600 file), the client certificate the vault issued for it, and the vault's CA
 * certificates it trusts the control plane by. One folder per site under the agent's state dir:
 * `<dir>/<site>/agent.key`, `agent.crt`, `ca.pem`.
 *
 * Registration (`drctl agent --register <key>`): the registration key pins the vault CA's SHA-256
 * fingerprint, so the agent reads `GET /api/v1/vault/ca` without trusting the server yet, checks the
 * fingerprint, and then trades the key and a CSR over verified TLS. Renewal: a CSR of the same key
 * over mTLS with the current (or an expired, up to 7 days) certificate.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import { createNodeApiRequester } from '../client/node-request.ts';
import { DrError } from '../common/index.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export interface AgentIdentity {
  site: string;
  dir: string;
  key: KeyObject;
  keyPem: string;
  certificate: string;
  ca: string[];
  notBefore: number;
  notAfter: number;
  /** When this agent received the certificate (the file's time when read from disk). */
  receivedAt: number;
  serial: string;
}

const issuedSchema = z.object({
  certificate: z.string(),
  ca: z.array(z.string()),
  serial: z.string(),
  expiresAt: z.string(),
});

export function identityFiles(dir: string, site: string) {
  const folder = join(dir, site);
  return {
    folder,
    key: join(folder, 'agent.key'),
    certificate: join(folder, 'agent.crt'),
    ca: join(folder, 'ca.pem'),
  };
}

function writeSecret(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function identityOf(
  dir: string,
  site: string,
  keyPem: string,
  certificate: string,
  ca: string[],
  receivedAt = Date.now(),
): AgentIdentity {
  const cert = new X509Certificate(certificate);
  return {
    site,
    dir,
    key: createPrivateKey(keyPem),
    keyPem,
    certificate,
    ca,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    receivedAt,
    serial: cert.serialNumber.toLowerCase(),
  };
}

/** The identity saved in `dir` for `site`; a clear error when the agent was never registered. */
export function loadIdentity(dir: string, site: string): AgentIdentity {
  const files = identityFiles(dir, site);
  if (!existsSync(files.key) || !existsSync(files.certificate) || !existsSync(files.ca)) {
    throw new DrError(
      'AGENT_NOT_REGISTERED',
      `the agent of site ${site} has no certificate in ${files.folder}; register it once: \`drctl site register ${site}\` on the control plane, then \`drctl agent --site ${site} --register <key>\``,
      { exitCode: 2 },
    );
  }
  const ca = readFileSync(files.ca, 'utf8')
    .split(/(?<=-----END CERTIFICATE-----)\s*/)
    .filter((p) => p.includes('BEGIN CERTIFICATE'));
  return identityOf(
    dir,
    site,
    readFileSync(files.key, 'utf8'),
    readFileSync(files.certificate, 'utf8'),
    ca,
    statSync(files.certificate).mtimeMs,
  );
}

function save(
  identity: { dir: string; site: string; keyPem: string },
  issued: z.infer<typeof issuedSchema>,
): AgentIdentity {
  const files = identityFiles(identity.dir, identity.site);
  mkdirSync(files.folder, { recursive: true, mode: 0o700 });
  writeSecret(files.key, identity.keyPem, 0o600);
  writeSecret(files.certificate, issued.certificate, 0o644);
  writeSecret(files.ca, issued.ca.join('\n'), 0o644);
  return identityOf(identity.dir, identity.site, identity.keyPem, issued.certificate, issued.ca);
}

async function csrFor(keyPem: string, site: string): Promise<string> {
  const privateKey = createPrivateKey(keyPem);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, EC_KEY, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, EC_KEY, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${site}, OU=drorch-agent`,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return csr.toString('pem');
}

function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

/**
 * Register the agent of `site` with `key` (from `drctl site register`): a new key made here, the
 * vault's CA checked against the key's fingerprint, the certificate saved in `dir`.
 */
export async function registerAgent(options: {
  server: string;
  site: string;
  key: string;
  dir: string;
}): Promise<AgentIdentity> {
  const { server, site, dir } = options;
  const parts = options.key.trim().split('.');
  const pin = parts[3];
  if (parts.length !== 4 || parts[0] !== 'drk1' || pin === undefined) {
    throw new DrError(
      'BAD_REGISTRATION_KEY',
      'the registration key is not one `drctl site register` prints (drk1.<site>.<secret>.<fingerprint>); copy it whole',
      {
        exitCode: 2,
      },
    );
  }
  if (parts[1] !== site) {
    throw new DrError(
      'REGISTRATION_KEY_OTHER_SITE',
      `the registration key is for site ${parts[1]}, not ${site}`,
      { exitCode: 2 },
    );
  }
  if (!server.startsWith('https:')) {
    throw new DrError(
      'TLS_REQUIRED',
      `agents reach the control plane over https only; ${server} is not an https URL`,
      { exitCode: 2 },
    );
  }
  // Not trusted yet: only what is checked against the pin below is used.
  const unverified = createNodeApiRequester(server, {
    agent: new https.Agent({ rejectUnauthorized: false }),
  });
  const offered = z.object({ ca: z.array(z.string()) }).parse(await unverified('GET', '/api/v1/vault/ca'));
  const current = offered.ca[0];
  if (current === undefined || fingerprintOf(current) !== pin) {
    throw new DrError(
      'VAULT_CA_MISMATCH',
      `the control plane at ${server} presents a CA whose fingerprint is not the one the registration key pins: it is not the vault that made the key (or someone is in between); check --server`,
      { exitCode: 2 },
    );
  }
  const keyPair = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const keyPem = x509.PemConverter.encode(
    await webcrypto.subtle.exportKey('pkcs8', keyPair.privateKey),
    'PRIVATE KEY',
  );
  // Only the pinned CA: the rest of what the unverified answer offered could be anyone's.
  const verified = createNodeApiRequester(server, { agent: new https.Agent({ ca: [current] }) });
  const issued = issuedSchema.parse(
    await verified('POST', '/api/v1/vault/register', {
      body: { site, key: options.key.trim(), csr: await csrFor(keyPem, site) },
    }),
  );
  return save({ dir, site, keyPem }, issued);
}

/** A renewed certificate for the same key, through `request` (the agent's mTLS link). */
export async function renewIdentity(
  identity: AgentIdentity,
  request: (path: string, body: Record<string, unknown>) => Promise<unknown>,
): Promise<AgentIdentity> {
  const issued = issuedSchema.parse(
    await request(`/api/v1/agents/${encodeURIComponent(identity.site)}/certificate`, {
      csr: await csrFor(identity.keyPem, identity.site),
    }),
  );
  return save(identity, issued);
}

/**
 * When to renew: half way from when the certificate was received to its end (not from its
 * notBefore, which the vault backdates a minute for clock skew): before half its life.
 */
export function renewalAt(identity: Pick<AgentIdentity, 'receivedAt' | 'notAfter'>): number {
  return identity.receivedAt + (identity.notAfter - identity.receivedAt) / 2;
}

/** The https agent of an identity's mTLS connections. */
export function tlsAgentOf(identity: AgentIdentity): https.Agent {
  return new https.Agent({
    keepAlive: true,
    ca: identity.ca,
    cert: identity.certificate,
    key: identity.keyPem,
  });
}
