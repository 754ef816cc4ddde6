/**
 * The execution's stored state, as a snapshot that does not grow with the plan: meta fields,
 * one hash field per step and per VM. Writes are fenced by the owner's lease token.
 */
import { DrError } from '../../common/index.ts';
import type { ExecutionKeys } from '../keys.ts';

/** Fields of the `meta` hash (all strings in Redis). */
export const META = {
  id: 'id',
  type: 'type',
  direction: 'direction',
  planName: 'planName',
  hash: 'hash',
  by: 'by',
  reason: 'reason',
  epoch: 'epoch',
  /** A cancel's second epoch, for its `<vm>/return` jobs (schedule JobContext.returnEpoch). */
  returnEpoch: 'returnEpoch',
  createdAt: 'createdAt',
  recoveryPoint: 'recoveryPoint',
  parent: 'parent',
  deadlineAt: 'deadlineAt',
  status: 'status',
  machine: 'machine',
  total: 'total',
  done: 'done',
  cursor: 'cursor',
  startedAt: 'startedAt',
  finishedAt: 'finishedAt',
  /** When the last VM became ready (ms): where a recovery's RTO ends. */
  lastReadyAt: 'lastReadyAt',
  /** Recoveries that reached their end only: submit → last VM ready, wall ms (the achieved RTO). */
  rtoMs: 'rtoMs',
  /** Every execution: submit → finish, wall ms. */
  durationMs: 'durationMs',
  /** Every execution: orchestrator start (first dispatch) → finish, wall ms (the benches' figure). */
  runMs: 'runMs',
  estimateMs: 'estimateMs',
  cleanup: 'cleanup',
  owner: 'owner',
  error: 'error',
  dataLoss: 'dataLoss',
  recoveryPointGap: 'recoveryPointGap',
  /** An automatic failover (engine/control/auto): its evidence, JSON (contract AutomaticEvidence). */
  automatic: 'automatic',
  approveManual: 'approveManual',
  /** A failback that reverses replication itself once every VM is home (follow-up.ts). */
  thenReprotect: 'thenReprotect',
  /** A protect execution: JSON ProtectInfo (the action, and each VM's site), stored with the submit. */
  protect: 'protect',
  /** Set once a step failed the plan: workers claim no more follow units (events.ts). */
  halted: 'halted',
} as const;

/**
 * One atomic write of an execution's progress. Fails with LEASE_LOST when another orchestrator
 * holds the lease; re-takes a lease that merely expired (nobody else owns the execution then).
 * Hash fields go in one HSET per 256 pairs (Lua's `unpack` stays far below its stack limit).
 */
export const RECORD_SCRIPT = `
local owner = redis.call('GET', KEYS[4])
if owner and owner ~= ARGV[1] then return redis.error_reply('LEASE_LOST') end
if not owner then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2]) end
local i = 3
if ARGV[i] ~= '' then redis.call('HSET', KEYS[1], 'cursor', ARGV[i]) end
i = i + 1
local delta = tonumber(ARGV[i])
if delta ~= 0 then redis.call('HINCRBY', KEYS[1], 'done', delta) end
i = i + 1
for _, key in ipairs({KEYS[2], KEYS[3], KEYS[1]}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  while n > 0 do
    local m = math.min(n, 256)
    redis.call('HSET', key, unpack(ARGV, i, i + 2 * m - 1))
    i = i + 2 * m
    n = n - m
  end
end
local events = tonumber(ARGV[i])
i = i + 1
for _ = 1, events do
  redis.call('XADD', KEYS[5], '*', 'e', ARGV[i])
  i = i + 1
end
return 1
`;

/** One batch of progress to write atomically. */
export interface ProgressWrite {
  /** New completions-stream cursor, when completions were consumed. */
  cursor?: string;
  /** Change of the finished-steps counter. */
  doneDelta: number;
  steps: [string, string][];
  vms: [string, string][];
  meta: [string, string][];
  /** JSON-encoded events to append. */
  events: string[];
}

export function emptyWrite(): ProgressWrite {
  return { doneDelta: 0, steps: [], vms: [], meta: [], events: [] };
}

export function isEmptyWrite(write: ProgressWrite): boolean {
  return (
    write.cursor === undefined &&
    write.doneDelta === 0 &&
    write.steps.length === 0 &&
    write.vms.length === 0 &&
    write.meta.length === 0 &&
    write.events.length === 0
  );
}

export function recordArgs(
  keys: ExecutionKeys,
  token: string,
  leaseMs: number,
  write: ProgressWrite,
): string[] {
  const args = [keys.meta, keys.steps, keys.vms, keys.lease, keys.events, token, String(leaseMs)];
  args.push(write.cursor ?? '', String(write.doneDelta));
  for (const pairs of [write.steps, write.vms, write.meta]) {
    args.push(String(pairs.length));
    for (const [field, value] of pairs) args.push(field, value);
  }
  args.push(String(write.events.length), ...write.events);
  return args;
}

export function leaseLost(execution: string): DrError {
  return new DrError(
    'LEASE_LOST',
    `execution ${execution}: another orchestrator took it over; this one stops driving it`,
    {
      retryable: false,
    },
  );
}
