/**
 * People and their record: `drctl token create|list|revoke` and `drctl audit [--since] [--json]
 * [--verify]`. Through the control plane (an admin token: `--token`, DR_TOKEN or `drctl up`'s), or
 * on REDIS_URL here, where whoever holds the vault's Redis is an admin already (the OS user is
 * recorded as the creator).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Redis } from 'ioredis';
import { createApiRequester, whoAmI } from '../client/index.ts';
import { DrError, InputError, parseDuration, tryParseDuration } from '../common/index.ts';
import type { AuditEntry, AuditVerdict } from '../control/audit/index.ts';
import {
  createToken,
  isRole,
  listTokens,
  ROLES,
  type Role,
  revokeToken,
  type TokenRecord,
} from '../control/auth/index.ts';
import { auditDirect, directAuditLog } from './direct-audit.ts';
import { PREFIX_OPTION, printJson, redisUrlFromEnv } from './run/common.ts';
import { refuseDirectFlags, SERVER_OPTION, serverOf } from './server-option.ts';

const VAULT_DIR_OPTION = [
  '--vault-dir <dir>',
  "on REDIS_URL: the vault's folder, whose key file opens the audit key (default DR_VAULT_DIR, else $XDG_STATE_HOME/drorch/vault)",
] as const;

interface PeopleFlags {
  server?: string;
  prefix: string;
  vaultDir?: string;
  json?: boolean;
}

const API = '/api/v1';
/** Entries asked for in one `GET /audit` (the route's default; at most 10,000). */
const AUDIT_PAGE = 1000;

/** Run `work` on the vault's Redis (the direct path), closing the connection after. */
async function onRedis<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(await redisUrlFromEnv(), { maxRetriesPerRequest: 1 });
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

function parseRole(value: string): Role {
  if (!isRole(value))
    throw new InvalidArgumentError(`"${value}" is not a role: use one of ${ROLES.join(', ')}`);
  return value;
}

function collectScope(value: string, previous: string[]): string[] {
  if (!/^(plan|site):[\w.-]{1,200}$/.test(value)) {
    throw new InvalidArgumentError(`"${value}" is not a scope: use plan:<name> or site:<name>`);
  }
  return [...previous, value];
}

function parseExpiry(value: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw new InvalidArgumentError(`"${value}" is not a duration: write e.g. 30d, 12h or 90m`);
  }
  return ms;
}

function parseSince(value: string): Date {
  const ms = tryParseDuration(value);
  if (ms !== undefined) return new Date(Date.now() - ms);
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    throw new InvalidArgumentError(
      `"${value}" is neither a time (2026-11-25T23:00:00Z) nor a duration ago (24h)`,
    );
  }
  return new Date(at);
}

export function registerPeopleCommands(program: Command): void {
  const token = program
    .command('token')
    .description("The people's API tokens: a role (viewer, drill-operator, operator, admin) and scopes");
  token
    .command('create')
    .description('Create a token and print it once (the vault keeps only its hash)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, parseRole)
    .option(
      '--scope <scope>',
      'plan:<name> or site:<name>, repeatable: what the token may act on',
      collectScope,
      [],
    )
    .addOption(
      new Option('--expires <duration>', 'lifetime, e.g. 30d, 12h')
        .argParser(parseExpiry)
        .default(parseDuration('30d'), '30d'),
    )
    .option('--owner <name>', 'who the token is for (the actor the audit log records)', whoAmI())
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option(...VAULT_DIR_OPTION)
    .option('--json', 'machine-readable output')
    .action(
      async (
        flags: PeopleFlags & { role: Role; scope: string[]; expires: number; owner: string },
        command: Command,
      ) => {
        const scopes = {
          plans: flags.scope.filter((s) => s.startsWith('plan:')).map((s) => s.slice(5)),
          sites: flags.scope.filter((s) => s.startsWith('site:')).map((s) => s.slice(5)),
        };
        const ask = { owner: flags.owner, role: flags.role, scopes, expiresInMs: flags.expires };
        const server = serverOf(flags);
        let created: { token: string; record: TokenRecord };
        if (server !== undefined) {
          refuseDirectFlags(command, server);
          created = await createApiRequester(server)('POST', `${API}/tokens`, { body: ask });
        } else {
          created = await onRedis(async (redis) => {
            const made = await createToken(redis, flags.prefix, { ...ask, createdBy: whoAmI() });
            await auditDirect(redis, flags.prefix, flags.vaultDir, {
              command: 'token create',
              action: 'token:manage',
              outcome: 'accepted',
              detail: `token ${made.record.id} for ${made.record.owner}, role ${made.record.role}`,
            });
            return made;
          });
        }
        if (flags.json) printJson(created);
        else {
          process.stdout.write(`${created.token}\n`);
          process.stderr.write(
            `token ${created.record.id} for ${created.record.owner}, role ${created.record.role}${scopeText(created.record)}, expires ${created.record.expiresAt ?? 'never'}; it is shown only now: keep it (e.g. export DR_TOKEN=…)\n`,
          );
        }
      },
    );
  token
    .command('list')
    .description('Every token the vault issued, revoked ones too (never a secret)')
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (flags: PeopleFlags, command: Command) => {
      const server = serverOf(flags);
      let tokens: TokenRecord[];
      if (server !== undefined) {
        refuseDirectFlags(command, server);
        tokens = (await createApiRequester(server)<{ tokens: TokenRecord[] }>('GET', `${API}/tokens`)).tokens;
      } else tokens = await onRedis((redis) => listTokens(redis, flags.prefix));
      if (flags.json) {
        printJson({ tokens });
        return;
      }
      for (const t of tokens) {
        const state =
          t.revokedAt !== undefined
            ? `revoked ${t.revokedAt} by ${t.revokedBy ?? '?'}`
            : `expires ${t.expiresAt ?? 'never'}`;
        process.stdout.write(`${t.id}  ${t.owner.padEnd(16)} ${t.role.padEnd(14)} ${state}${scopeText(t)}\n`);
      }
    });
  token
    .command('revoke <id>')
    .description(
      'Revoke a token (its id from `drctl token list`, or the token): refused from its next request on',
    )
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option(...VAULT_DIR_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: PeopleFlags, command: Command) => {
      const server = serverOf(flags);
      let record: TokenRecord;
      if (server !== undefined) {
        refuseDirectFlags(command, server);
        const bare = /^drt_([0-9a-f]{16})_/.exec(id)?.[1] ?? id;
        record = await createApiRequester(server)('POST', `${API}/tokens/${encodeURIComponent(bare)}/revoke`);
      } else
        record = await onRedis(async (redis) => {
          const revoked = await revokeToken(redis, flags.prefix, id, whoAmI());
          await auditDirect(redis, flags.prefix, flags.vaultDir, {
            command: 'token revoke',
            action: 'token:manage',
            outcome: 'accepted',
            detail: `token ${revoked.id} of ${revoked.owner}`,
          });
          return revoked;
        });
      if (flags.json) printJson(record);
      else process.stdout.write(`revoked ${record.id} (${record.owner}) at ${record.revokedAt ?? '?'}\n`);
    });

  program
    .command('audit')
    .description(
      'The audit log: every mutating or refused call and every decision the engine took by itself, hash-chained and signed',
    )
    .option('--since <when>', 'from a time (ISO) or a duration ago (24h, 30d)', parseSince)
    .option('--verify', 'check the hash chain and the signed head; exit 1 naming the first bad entry')
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option(...VAULT_DIR_OPTION)
    .option('--json', 'one JSON line an entry (with --verify: the verdict)')
    .action(async (flags: PeopleFlags & { since?: Date; verify?: boolean }, command: Command) => {
      const server = serverOf(flags);
      let entries: AuditEntry[];
      let verdict: AuditVerdict | undefined;
      if (server !== undefined) {
        refuseDirectFlags(command, server);
        // A page at a time, following `next` to the end (the verdict comes with the first).
        const request = createApiRequester(server);
        entries = [];
        let after: string | undefined;
        do {
          const answer = await request<{ entries: AuditEntry[]; next?: string; verdict?: AuditVerdict }>(
            'GET',
            `${API}/audit`,
            {
              query: {
                ...(flags.since === undefined ? {} : { since: flags.since.toISOString() }),
                ...(after === undefined ? {} : { after }),
                ...(flags.verify && verdict === undefined ? { verify: true } : {}),
                limit: flags.verify ? 1 : AUDIT_PAGE,
              },
            },
          );
          verdict ??= answer.verdict;
          if (flags.verify) break;
          entries.push(...answer.entries);
          after = answer.next;
        } while (after !== undefined);
      } else {
        ({ entries, verdict } = await onRedis(async (redis) => {
          const log = await directAuditLog(redis, flags.prefix, flags.vaultDir);
          return {
            entries: flags.verify
              ? []
              : await log.read(flags.since === undefined ? {} : { since: flags.since }),
            verdict: flags.verify ? await log.verify() : undefined,
          };
        }));
      }
      if (flags.verify) {
        if (verdict === undefined) throw new DrError('NO_VERDICT', 'the control plane sent no verdict');
        if (flags.json) printJson(verdict);
        if (!verdict.ok) {
          throw new DrError('AUDIT_TAMPERED', `the audit log does not verify: ${verdict.problem}`, {
            details: { verdict },
          });
        }
        if (!flags.json)
          process.stdout.write(
            `audit log verified: ${verdict.entries} entries, chain and signed head intact\n`,
          );
        return;
      }
      for (const entry of entries) {
        if (flags.json) printJson(entry);
        else process.stdout.write(`${entryLine(entry)}\n`);
      }
    });
}

function scopeText(t: TokenRecord): string {
  const scopes = [...t.scopes.plans.map((p) => `plan:${p}`), ...t.scopes.sites.map((s) => `site:${s}`)];
  return scopes.length === 0 ? '' : `, scopes ${scopes.join(' ')}`;
}

function entryLine(e: AuditEntry): string {
  const on = [
    e.plan === undefined ? '' : ` plan ${e.plan}`,
    e.execution === undefined
      ? ''
      : ` execution ${e.execution}${e.epoch === undefined ? '' : ` epoch ${e.epoch}`}`,
  ].join('');
  const why = e.code === undefined ? '' : ` ${e.code}`;
  return `${String(e.seq).padStart(6)} ${e.at} ${e.actor}${e.role === undefined ? '' : ` (${e.role})`} ${e.action}${on} ${e.outcome}${e.status === undefined ? '' : ` ${e.status}`}${why}${e.route === undefined ? '' : ` [${e.route}${e.ip === undefined ? '' : ` from ${e.ip}`}]`}`;
}

/** `--token <token>` on any command: the API token for this command (else DR_TOKEN, else up's). */
export function registerTokenOption(program: Command): void {
  program.option(
    '--token <token>',
    'the API token (default DR_TOKEN, else the one `drctl up` wrote for its server)',
  );
  program.hook('preAction', (root) => {
    const given = root.opts<{ token?: string }>().token;
    if (given === undefined) return;
    if (given.trim() === '')
      throw new InputError('EMPTY_TOKEN', '--token is empty; give the token `drctl token create` printed');
    process.env.DR_TOKEN = given;
  });
}
