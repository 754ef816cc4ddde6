/**
 * The audit log: every mutating call, every refused one and every decision the engine takes by
 * itself, append-only and tamper-evident.
 *
 * Storage: the Redis stream `<prefix>:audit` (one field `e`, the entry's JSON), never trimmed: no
 * XADD MAXLEN, no XTRIM anywhere, so it keeps far more than the 13 months asked for (a few hundred
 * bytes an entry; archive it with `drctl audit --json` before deleting anything by hand). Each entry
 * carries its sequence number, the hash of the one before (`prev`) and its own `hash`, SHA-256 of
 * its JSON without `hash`. The head (`<prefix>:audit:head`: last seq, last hash, signature of both)
 * is signed by the vault's key on every append; a Lua script appends the entry and moves the head
 * only if the head is still the one the hash was computed on, so concurrent control planes keep
 * one chain. `verifyAuditLog` finds an altered entry (its hash), a removed one (a gap in seq, a
 * broken `prev`) and a truncated tail (the signed head is ahead of the last entry).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import type { AuditSigner } from './signer.ts';

export const SYSTEM_ACTOR = 'system';
const GENESIS = '0'.repeat(64);

/** What a caller says of one event. */
export interface AuditInput {
  /** The token's owner, `system` for the engine, `anonymous` for a call without a valid token. */
  actor: string;
  role?: string;
  /** The permission exercised or refused (`failover:commit`), or the engine's decision. */
  action: string;
  /** `POST /api/v1/executions/:id/commit`; absent for the engine's own decisions. */
  route?: string;
  ip?: string;
  execution?: string;
  epoch?: number;
  plan?: string;
  outcome: 'accepted' | 'refused' | 'failed';
  status?: number;
  code?: string;
  detail?: string;
}

export interface AuditEntry extends AuditInput {
  seq: number;
  at: string;
  prev: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
  keyId: string;
  signature: string;
}

export const auditKeysOf = (prefix: string) => ({
  stream: `${prefix}:audit`,
  head: `${prefix}:audit:head`,
  /** The signed genesis marker: written once with the log's signing key, never after. */
  genesis: `${prefix}:audit:genesis`,
});
const keysOf = auditKeysOf;

/** The log's start: which key signs it and since when (signed), and the head at seq 0. */
export interface AuditGenesis {
  keyId: string;
  at: string;
  signature: string;
}

const genesisMessage = (keyId: string, at: string): Buffer =>
  Buffer.from(`drorch-audit-genesis:${keyId}:${at}`);

/** KEYS: genesis, head. ARGV: genesis JSON, keyId, head signature. 1 written, 0 there already. */
const GENESIS_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'seq', '0', 'hash', '${GENESIS}', 'keyId', ARGV[2], 'signature', ARGV[3])
end
return 1
`;

/**
 * Mark the log's genesis (with its signing key's creation): a signed record and the head at seq 0,
 * so an emptied log (stream and head gone) or one whose head was deleted fails `verifyAuditLog`.
 * Written once (SET NX); a log that has entries keeps its head. Same-slot keys: `{prefix}` is not
 * a hash tag, so this runs on one Redis (the vault's, not a cluster), as APPEND does.
 */
export async function writeAuditGenesis(
  redis: Redis,
  prefix: string,
  signer: AuditSigner,
  now: Date = new Date(),
): Promise<boolean> {
  const keys = keysOf(prefix);
  const at = now.toISOString();
  const genesis: AuditGenesis = {
    keyId: signer.keyId,
    at,
    signature: await signer.sign(genesisMessage(signer.keyId, at)),
  };
  const headSignature = await signer.sign(headMessage(0, GENESIS));
  const done = await redis.eval(
    GENESIS_SCRIPT,
    2,
    keys.genesis,
    keys.head,
    JSON.stringify(genesis),
    signer.keyId,
    headSignature,
  );
  return done === 1;
}

/** KEYS: head, stream. ARGV: expected head hash, entry JSON, seq, hash, keyId, signature. */
const APPEND = `
local current = redis.call('HGET', KEYS[1], 'hash') or '${GENESIS}'
if current ~= ARGV[1] then return 0 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4], 'keyId', ARGV[5], 'signature', ARGV[6])
return 1
`;

export const headMessage = (seq: number, hash: string): Buffer => Buffer.from(`drorch-audit:${seq}:${hash}`);

export function hashEntry(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify(entry)).digest('hex');
}

export interface AuditLog {
  append(input: AuditInput): Promise<AuditEntry>;
  /** Entries from `since` (inclusive), oldest first. */
  read(options?: { since?: Date; limit?: number }): Promise<AuditEntry[]>;
  /**
   * One page, oldest first: from `since`, or after the cursor `after` (a page's `next`); `next`
   * is absent on the last page.
   */
  page(options: {
    since?: Date;
    after?: string;
    limit: number;
  }): Promise<{ entries: AuditEntry[]; next?: string }>;
  verify(): Promise<AuditVerdict>;
}

export function createAuditLog(
  redis: Redis,
  prefix: string,
  signer: AuditSigner,
  options: { now?: () => Date } = {},
): AuditLog {
  const keys = keysOf(prefix);
  const now = options.now ?? (() => new Date());
  // One append at a time from this process; the script's check covers other processes.
  let queue: Promise<unknown> = Promise.resolve();
  const appendOnce = async (input: AuditInput): Promise<AuditEntry> => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const [seqText, prevHash] = await redis.hmget(keys.head, 'seq', 'hash');
      const prev = prevHash ?? GENESIS;
      const body: Omit<AuditEntry, 'hash'> = {
        seq: Number(seqText ?? 0) + 1,
        at: now().toISOString(),
        ...definedOf(input),
        prev,
      };
      const hash = hashEntry(body);
      const entry: AuditEntry = { ...body, hash };
      const signature = await signer.sign(headMessage(entry.seq, hash));
      const done = await redis.eval(
        APPEND,
        2,
        keys.head,
        keys.stream,
        prev,
        JSON.stringify(entry),
        String(entry.seq),
        hash,
        signer.keyId,
        signature,
      );
      if (done === 1) return entry;
    }
    throw new DrError('AUDIT_CONTENDED', 'could not append to the audit log: its head kept moving', {
      retryable: true,
    });
  };
  return {
    append: (input) => {
      const next = queue.then(() => appendOnce(input));
      queue = next.catch(() => undefined);
      return next;
    },
    read: async (readOptions = {}) => {
      const start = readOptions.since === undefined ? '-' : String(readOptions.since.getTime());
      const entries: AuditEntry[] = [];
      for await (const entry of streamEntries(redis, keys.stream, start)) {
        entries.push(entry.entry);
        if (readOptions.limit !== undefined && entries.length >= readOptions.limit) break;
      }
      return entries;
    },
    page: async ({ since, after, limit }) => {
      const start = after !== undefined ? `(${after}` : since === undefined ? '-' : String(since.getTime());
      // One more than asked: whether there is a next page.
      const rows = await redis.xrange(keys.stream, start, '+', 'COUNT', limit + 1);
      const entries = rows.slice(0, limit).map(([, fields]) => parseEntry(fields));
      const last = rows[Math.min(rows.length, limit) - 1]?.[0];
      return rows.length > limit && last !== undefined ? { entries, next: last } : { entries };
    },
    verify: () => verifyAuditLog(redis, prefix, signer),
  };
}

/** The input without its undefined fields, in a fixed order (the hash is over the JSON). */
function definedOf(input: AuditInput): AuditInput {
  const order: (keyof AuditInput)[] = [
    'actor',
    'role',
    'action',
    'route',
    'ip',
    'execution',
    'epoch',
    'plan',
    'outcome',
    'status',
    'code',
    'detail',
  ];
  const out: Record<string, unknown> = {};
  for (const key of order) if (input[key] !== undefined) out[key] = input[key];
  return out as unknown as AuditInput;
}

function parseEntry(fields: string[]): AuditEntry {
  try {
    return JSON.parse(fields[fields.indexOf('e') + 1] ?? '') as AuditEntry;
  } catch {
    return { seq: Number.NaN } as AuditEntry;
  }
}

async function* streamEntries(
  redis: Redis,
  stream: string,
  start: string,
): AsyncGenerator<{ id: string; entry: AuditEntry; raw: string }> {
  let from = start;
  for (;;) {
    const page = await redis.xrange(stream, from, '+', 'COUNT', 1000);
    for (const [id, fields] of page) {
      const raw = fields[fields.indexOf('e') + 1] ?? '';
      yield { id, entry: parseEntry(fields), raw };
    }
    if (page.length < 1000) return;
    from = `(${page[page.length - 1]?.[0] ?? ''}`;
  }
}

export type AuditVerdict =
  | { ok: true; entries: number; head?: AuditHead }
  | { ok: false; entries: number; seq?: number; problem: string };

/** Walk the chain from its first entry and check the signed head against where it ends. */
export async function verifyAuditLog(
  redis: Redis,
  prefix: string,
  signer: AuditSigner,
): Promise<AuditVerdict> {
  const keys = keysOf(prefix);
  const rawGenesis = await redis.get(keys.genesis);
  if (rawGenesis === null) {
    return {
      ok: false,
      entries: 0,
      problem: "the log's genesis marker is missing: the audit log was emptied or replaced",
    };
  }
  let genesis: Partial<AuditGenesis> = {};
  try {
    genesis = JSON.parse(rawGenesis) as Partial<AuditGenesis>;
  } catch {
    // Checked below: no signature verifies.
  }
  if (
    typeof genesis.keyId !== 'string' ||
    typeof genesis.at !== 'string' ||
    typeof genesis.signature !== 'string' ||
    genesis.keyId !== signer.keyId ||
    !(await signer.verify(genesisMessage(genesis.keyId, genesis.at), genesis.signature))
  ) {
    return {
      ok: false,
      entries: 0,
      problem: `the log's genesis marker does not verify with the vault's audit key (${signer.keyId}): it was replaced`,
    };
  }
  let expected = 1;
  let prev = GENESIS;
  let count = 0;
  for await (const { id, entry } of streamEntries(redis, keys.stream, '-')) {
    count += 1;
    const { hash, ...body } = entry;
    if (!Number.isSafeInteger(entry.seq)) {
      return { ok: false, entries: count, problem: `the entry at stream id ${id} is not an audit entry` };
    }
    if (entry.seq > expected) {
      const gap = entry.seq - 1 === expected ? `entry ${expected}` : `entries ${expected}..${entry.seq - 1}`;
      return {
        ok: false,
        entries: count,
        seq: expected,
        problem: `${gap} removed: entry ${entry.seq} follows entry ${expected - 1}`,
      };
    }
    if (entry.seq < expected) {
      return {
        ok: false,
        entries: count,
        seq: entry.seq,
        problem: `entry ${entry.seq} appears twice or out of order`,
      };
    }
    if (hashEntry(body) !== hash) {
      return {
        ok: false,
        entries: count,
        seq: entry.seq,
        problem: `entry ${entry.seq} was altered (its hash does not match its content)`,
      };
    }
    if (entry.prev !== prev) {
      return {
        ok: false,
        entries: count,
        seq: entry.seq,
        problem: `entry ${entry.seq} does not chain to entry ${entry.seq - 1} (the one before was altered or replaced)`,
      };
    }
    prev = hash;
    expected += 1;
  }
  const last = expected - 1;
  const fields = await redis.hgetall(keys.head);
  if (fields.hash === undefined) {
    // The genesis wrote a head at seq 0: none at all is a deleted head.
    return {
      ok: false,
      entries: count,
      seq: last,
      problem: `the signed head is missing (the log has ${count} entries): it was emptied or its head deleted`,
    };
  }
  const head: AuditHead = {
    seq: Number(fields.seq),
    hash: fields.hash,
    keyId: fields.keyId ?? '',
    signature: fields.signature ?? '',
  };
  if (
    head.keyId !== signer.keyId ||
    !(await signer.verify(headMessage(head.seq, head.hash), head.signature))
  ) {
    return {
      ok: false,
      entries: count,
      seq: head.seq,
      problem: `the head's signature does not verify with the vault's key (${signer.keyId})`,
    };
  }
  if (head.seq > last) {
    const lost = head.seq - 1 === last ? `entry ${head.seq}` : `entries ${last + 1}..${head.seq}`;
    return {
      ok: false,
      entries: count,
      seq: last + 1,
      problem: `truncated: the signed head is entry ${head.seq} but the log ends at entry ${last} (${lost} removed)`,
    };
  }
  if (head.seq < last) {
    return {
      ok: false,
      entries: count,
      seq: head.seq + 1,
      problem: `entries ${head.seq + 1}..${last} were added after the signed head, not by the control plane`,
    };
  }
  if (head.hash !== prev) {
    return {
      ok: false,
      entries: count,
      seq: last,
      problem: `entry ${last} differs from the one the head signed (rewritten)`,
    };
  }
  return { ok: true, entries: count, head };
}
