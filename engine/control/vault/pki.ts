/**
 * The vault's X.509 work, all through @peculiar/x509 over Node's WebCrypto (no hand-written ASN.1):
 * the CA (ECDSA P-256, self-signed), a CA certificate cross-signed by the previous CA at rotation,
 * the control plane's TLS server certificate, and agents' client certificates issued from their
 * CSRs. A client certificate names its site twice: subject `CN=<site>, OU=drorch-agent` and the SAN
 * URI `urn:drorch:site:<site>`, which is the one the control plane reads.
 */
import { randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { DrError, SITE_URI_PREFIX } from '../../common/index.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface IssuerKeys {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/** A random positive serial (16 bytes, hex): the revocation list names certificates by it. */
export function newSerial(): string {
  const bytes = randomBytes(16);
  // 0x10-0x7f: positive, and no leading zero for a reader to drop.
  bytes[0] = 0x10 | ((bytes[0] ?? 0) & 0x6f);
  return bytes.toString('hex');
}

export async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
}

export async function importPkcs8(der: Buffer): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey('pkcs8', der, EC_KEY, true, ['sign'])) as CryptoKey;
}

export function pkcs8Pem(der: Buffer): string {
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/**
 * A root may sign one CA below it (path length 1): the cross certificate of its successor at a
 * rotation, which signs only end entities (path length 0).
 */
async function caExtensions(publicKey: CryptoKey, pathLength: number): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
}

/** A new CA: its key pair and self-signed certificate (10 years: its key rotates, not expires). */
export async function createCa(
  name: string,
  now = new Date(),
): Promise<IssuerKeys & { publicKey: CryptoKey }> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${name}, O=drorch vault`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 10 * 365 * 86_400_000),
    signingAlgorithm: SIGNING,
    keys,
    extensions: await caExtensions(keys.publicKey, 1),
  });
  return { certificate, privateKey: keys.privateKey, publicKey: keys.publicKey };
}

/**
 * The new CA's certificate signed by the old CA's key: a peer that trusts only the old CA builds
 * the chain server → new CA (cross) → old CA during a rotation.
 */
export async function crossSign(
  newCa: x509.X509Certificate,
  oldCa: IssuerKeys,
): Promise<x509.X509Certificate> {
  const publicKey = await newCa.publicKey.export();
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: newCa.subject,
    issuer: oldCa.certificate.subject,
    notBefore: newCa.notBefore,
    notAfter: oldCa.certificate.notAfter,
    signingAlgorithm: SIGNING,
    publicKey,
    signingKey: oldCa.privateKey,
    extensions: [
      ...(await caExtensions(publicKey, 0)),
      await x509.AuthorityKeyIdentifierExtension.create(oldCa.certificate.publicKey),
    ],
  });
}

/** The control plane's TLS server certificate for these names (DNS names and IP addresses). */
export async function issueServerCertificate(
  ca: IssuerKeys,
  names: readonly string[],
  lifetimeMs: number,
  now = new Date(),
): Promise<{ certificate: x509.X509Certificate; privateKey: CryptoKey }> {
  const keys = await generateKeys();
  const san = names.map((n) =>
    /^[\d.]+$/.test(n) || n.includes(':')
      ? { type: 'ip' as const, value: n }
      : { type: 'dns' as const, value: n },
  );
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: `CN=${names[0] ?? 'drorch control plane'}, OU=drorch-control`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + lifetimeMs),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(san),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
    ],
  });
  return { certificate, privateKey: keys.privateKey };
}

/** A CSR's public key, once its signature is checked and its key is P-256; else a 400 naming why. */
export async function csrPublicKey(csrPem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (error) {
    throw badCsr(`it is not a PEM PKCS #10 request (${(error as Error).message})`);
  }
  const algorithm = csr.publicKey.algorithm as { name: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256')
    throw badCsr(
      `its key is ${algorithm.name} ${algorithm.namedCurve ?? ''}; the vault signs ECDSA P-256 keys only`,
    );
  if (!(await csr.verify())) throw badCsr('its signature does not verify with its own key');
  return csr.publicKey;
}

function badCsr(why: string): DrError {
  return new DrError('BAD_CSR', `the certificate signing request was refused: ${why}`, {
    exitCode: 2,
    details: { status: 400 },
  });
}

/** An agent's client certificate for `site`, for the key of a checked CSR. */
export async function issueClientCertificate(
  ca: IssuerKeys,
  site: string,
  publicKey: x509.PublicKey,
  lifetimeMs: number,
  now = new Date(),
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: `CN=${site}, OU=drorch-agent`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + lifetimeMs),
    signingAlgorithm: SIGNING,
    publicKey: await publicKey.export(),
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `${SITE_URI_PREFIX}${site}` }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
    ],
  });
}

/** SHA-256 of a certificate's DER, base64url: what a registration key pins the CA by. */
export async function fingerprint(certificate: x509.X509Certificate): Promise<string> {
  return Buffer.from(await certificate.getThumbprint('SHA-256')).toString('base64url');
}

export { x509 };
