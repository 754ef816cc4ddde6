/**
 * The CA key at rest: AES-256-GCM under a key-encryption key (KEK) of 32 random bytes kept in a
 * file of mode 0600 beside the control plane (`<vault dir>/vault.key`), never in Redis. Redis holds
 * only the sealed key (`v1.<iv>.<tag>.<ciphertext>`, base64url), bound by GCM's additional data to
 * the CA's serial, so a sealed key moved under another CA's record does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DrError } from '../../common/index.ts';

const KEK_BYTES = 32;

/** The KEK in `file`; with `create`, a new one is written (0600) when the file does not exist. */
export function readKek(file: string, create = false): Buffer {
  if (!existsSync(file)) {
    if (!create) {
      throw new DrError(
        'VAULT_KEY_MISSING',
        `the vault's key file ${file} does not exist; run \`drctl vault init\` (or restore the key file from its backup) and give its folder with --vault-dir / DR_VAULT_DIR`,
        { exitCode: 2 },
      );
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(KEK_BYTES).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new DrError(
      'VAULT_KEY_EXPOSED',
      `the vault's key file ${file} has mode ${mode.toString(8)}: others may read it; \`chmod 600 ${file}\` and rotate the CA (\`drctl vault rotate\`) if it was exposed`,
      { exitCode: 2 },
    );
  }
  const kek = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (kek.length !== KEK_BYTES) {
    throw new DrError('VAULT_KEY_BAD', `the vault's key file ${file} does not hold a ${KEK_BYTES}-byte key`, {
      exitCode: 2,
    });
  }
  return kek;
}

export function seal(kek: Buffer, plain: Buffer, boundTo: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(boundTo));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

export function unseal(kek: Buffer, sealed: string, boundTo: string): Buffer {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || iv === undefined || tag === undefined || body === undefined) {
    throw new DrError('VAULT_KEY_CORRUPT', "the vault's sealed CA key is not in a known format", {
      exitCode: 1,
    });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  } catch {
    throw new DrError(
      'VAULT_KEY_WRONG',
      "the vault's CA key does not open with this key file: it belongs to another vault (check --vault-dir / DR_VAULT_DIR and --prefix)",
      { exitCode: 2 },
    );
  }
}
