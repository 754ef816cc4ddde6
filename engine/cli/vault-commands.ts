/**
 * The vault's commands, run where the control plane runs (they need REDIS_URL and the vault
 * folder's key file, not the API):
 * - `drctl vault init` creates the CA and prints the first admin token;
 * - `drctl vault backup --out <file>` / `drctl vault restore --from <file>`: the CA record and the
 *   audit log's signing key (both sealed) and the log's genesis; back the key file up separately,
 *   the two together restore the vault, which still verifies its log;
 * - `drctl vault rotate`: a new CA key, the old one still trusted (engine/control/vault/vault.ts);
 * - `drctl site register <site> [--expires 5d]` prints a single-use registration key;
 * - `drctl site revoke <site>` ends that site's agent (its connections close within 1 s).
 */
import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { createFirstAdminToken } from '../control/auth/index.ts';
import {
  backupVault,
  createRegistrationKey,
  DEFAULT_REGISTRATION_TTL_MS,
  initVault,
  restoreVault,
  revokeSite,
  rotateVault,
  vaultFingerprint,
} from '../control/vault/index.ts';
import { DEFAULT_PREFIX } from '../executor/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { auditDirect } from './direct-audit.ts';
import { vaultDirFrom } from './trust-setup.ts';
import { duration } from './world-options.ts';

interface VaultFlags {
  prefix: string;
  vaultDir?: string;
  json?: boolean;
}

/** The first admin token `drctl vault init` prints (engine/control/auth: owner `admin`, a year). */
function firstAdminTokenMaker(redis: Redis, prefix: string): () => Promise<string> {
  return async () => (await createFirstAdminToken(redis, prefix)).token;
}

async function withRedis<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(await checkRedisUrl(process.env.REDIS_URL), {
    maxRetriesPerRequest: 2,
    connectionName: 'drctl-vault',
  });
  redis.on('error', () => {});
  try {
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

function print(flags: { json?: boolean }, value: Record<string, unknown>, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

function common(command: Command): Command {
  return command
    .option('--prefix <prefix>', 'Redis key prefix of the vault', DEFAULT_PREFIX)
    .option(
      '--vault-dir <dir>',
      "the vault's folder (its key file, ca.pem); default DR_VAULT_DIR, else $XDG_STATE_HOME/drorch/vault",
    )
    .option('--json', 'machine-readable output');
}

export function registerVaultCommands(program: Command): void {
  const vault = program
    .command('vault')
    .description("The vault's certificate authority (REDIS_URL and the vault folder's key file)");
  common(
    vault
      .command('init')
      .description('Create the CA (ECDSA P-256, key sealed at rest) and print the first admin token'),
  ).action(async (flags: VaultFlags) => {
    const dir = vaultDirFrom(flags.vaultDir);
    const result = await withRedis((redis) =>
      initVault({
        redis,
        prefix: flags.prefix,
        dir,
        firstAdminToken: firstAdminTokenMaker(redis, flags.prefix),
      }),
    );
    print(
      flags,
      { ...result, prefix: flags.prefix },
      [
        `vault created under prefix ${flags.prefix}: CA ${result.caFingerprint}`,
        `  key file ${result.keyFile} (0600: back it up apart from Redis; \`drctl vault backup\` saves the rest)`,
        `  CA certificate ${result.caFile}`,
        ...(result.adminToken === undefined ? [] : [`first admin token (shown once): ${result.adminToken}`]),
      ].join('\n'),
    );
  });
  common(
    vault
      .command('backup')
      .description(
        "Save the CA record and the audit log's signing key (both sealed) and genesis to a file (0600)",
      ),
  )
    .requiredOption('--out <file>', 'where to write the backup')
    .action(async (flags: VaultFlags & { out: string }) => {
      const record = await withRedis((redis) =>
        backupVault({ redis, prefix: flags.prefix, file: flags.out }),
      );
      print(
        flags,
        { file: flags.out, serial: record.current.serial },
        `vault CA ${record.current.serial} saved to ${flags.out}; keep the key file (vault.key) with it, apart`,
      );
    });
  common(
    vault
      .command('restore')
      .description(
        "Put a backup's CA record and audit key back (the vault folder's key file must open them)",
      ),
  )
    .requiredOption('--from <file>', 'the backup')
    .option('--force', 'replace another vault under this prefix')
    .action(async (flags: VaultFlags & { from: string; force?: boolean }) => {
      const record = await withRedis((redis) =>
        restoreVault({
          redis,
          prefix: flags.prefix,
          dir: vaultDirFrom(flags.vaultDir),
          file: flags.from,
          force: flags.force === true,
        }),
      );
      print(
        flags,
        { serial: record.current.serial },
        `vault CA ${record.current.serial} restored under prefix ${flags.prefix}`,
      );
    });
  common(
    vault
      .command('rotate')
      .description('Replace the CA key: new certificates come from the new CA, the old one stays trusted'),
  ).action(async (flags: VaultFlags) => {
    const rotated = await withRedis(async (redis) => {
      const done = await rotateVault({ redis, prefix: flags.prefix, dir: vaultDirFrom(flags.vaultDir) });
      await auditDirect(redis, flags.prefix, flags.vaultDir, {
        command: 'vault rotate',
        action: 'vault:rotate',
        outcome: 'accepted',
        detail: `new CA ${done.caFingerprint}`,
      });
      return done;
    });
    print(
      flags,
      rotated,
      `vault CA rotated: new CA ${rotated.caFingerprint}; ${rotated.previous} earlier CA(s) still trusted. running control planes take it up now; agents move to it at their next renewal`,
    );
  });

  const site = program.command('site').description("A site's agent registration (REDIS_URL)");
  common(
    site
      .command('register')
      .argument('<site>', 'the site whose agent registers')
      .description("Print a single-use registration key for a site's agent"),
  )
    .option(
      '--expires <duration>',
      'how long the key may be used (e.g. 5d, 2h, 30s)',
      duration,
      DEFAULT_REGISTRATION_TTL_MS,
    )
    .action(async (name: string, flags: VaultFlags & { expires: number }) => {
      const key = await withRedis(async (redis) => {
        const made = await createRegistrationKey(
          redis,
          flags.prefix,
          name,
          await vaultFingerprint(redis, flags.prefix),
          flags.expires,
        );
        await auditDirect(redis, flags.prefix, flags.vaultDir, {
          command: 'site register',
          action: 'site:manage',
          outcome: 'accepted',
          detail: `registration key for site ${name}, expires ${made.expiresAt}`,
        });
        return made;
      });
      print(
        flags,
        { ...key },
        `registration key for site ${name} (single use, expires ${key.expiresAt}):\n${key.key}\nrun at the site: drctl agent --site ${name} --register <key> --server <https URL>`,
      );
    });
  common(
    site
      .command('revoke')
      .argument('<site>', 'the site whose agent certificates end now')
      .description("End a site's agent: its certificates revoked, its connections closed"),
  ).action(async (name: string, flags: VaultFlags) => {
    const serials = await withRedis(async (redis) => {
      const revoked = await revokeSite(redis, flags.prefix, name);
      await auditDirect(redis, flags.prefix, flags.vaultDir, {
        command: 'site revoke',
        action: 'site:manage',
        outcome: 'accepted',
        detail: `site ${name}: ${revoked.length} certificate(s) revoked`,
      });
      return revoked;
    });
    print(
      flags,
      { site: name, revoked: serials },
      `site ${name}: ${serials.length} certificate(s) revoked; register its agent again with \`drctl site register ${name}\``,
    );
  });
}
