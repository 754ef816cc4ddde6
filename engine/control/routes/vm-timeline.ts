/**
 * One row per VM of an execution, folded from its event log (the timeline of record): the VM's
 * state as the dashboard draws it, when it left `waiting` and when it reached `ready` or `failed`,
 * and the last step it started. Pure apart from the reads in `createVmTimelines`.
 *
 * The fold is kept per execution and only the events after its cursor are read on the next call,
 * so a 10,000-VM execution's page that polls or reconnects reads its log once. Events are parsed
 * narrowly (the few fields the fold uses, each checked), not through the full event schema: the
 * log's first read is 10^5 events for 10^4 VMs.
 *
 * The fold is also saved in Redis (`<prefix>:dash:timeline:<execution>`, a cache the log can always
 * rebuild): another control plane, or this one after a restart, starts from it and reads only the
 * events after its cursor, instead of the whole log and a compile of the plan.
 */
import type { Redis } from 'ioredis';
import { executionKeys } from '../../executor/index.ts';

export const TIMELINE_STATES = [
  'waiting',
  'shutting-down',
  'failing-over',
  'booting',
  'awaiting-readiness',
  'ready',
  'failed',
] as const;
export type TimelineState = (typeof TIMELINE_STATES)[number];

export interface VmRow {
  vm: string;
  /** The VM's dependency level: 0 for VMs that depend on none, 1 for those after them, … */
  wave: number;
  state: TimelineState;
  /** The engine's own phase when it says more than `state` (cleaned-up, committed, …). */
  phase?: string;
  startedAt?: string;
  endedAt?: string;
  step?: string;
}

/** The engine's VM phases (contract VM_PHASES) as the timeline's states. */
function stateOf(phase: string): TimelineState {
  switch (phase) {
    case 'waiting':
    case 'shutting-down':
    case 'failing-over':
    case 'booting':
    case 'awaiting-readiness':
    case 'ready':
    case 'failed':
      return phase;
    // After a recovery reached its end: the VM stays ready in the timeline, its phase beside it.
    case 'cleaning-up':
    case 'cleaned-up':
    case 'committing':
    case 'committed':
    case 'reprotecting':
    case 'protected':
      return 'ready';
    case 'rolling-back':
      return 'shutting-down';
    case 'rolled-back':
      return 'waiting';
    default:
      return 'waiting';
  }
}

export interface TimelineShape {
  /** VM names in the plan's order. */
  vms: readonly string[];
  /** Each VM's dependency level. */
  waveOf: ReadonlyMap<string, number>;
  /** Step id → its VM, for the steps of one VM. */
  vmOfStep: ReadonlyMap<string, string>;
}

export interface TimelineFold {
  cursor: string;
  rows: Map<string, VmRow>;
  startedAt?: string;
  finishedAt?: string;
}

export function newFold(shape: TimelineShape): TimelineFold {
  const rows = new Map<string, VmRow>();
  for (const vm of shape.vms) rows.set(vm, { vm, wave: shape.waveOf.get(vm) ?? 0, state: 'waiting' });
  return { cursor: '0', rows };
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The events the fold reads; the others (most of a log's bytes: step results) are not parsed. */
const FOLDED = /"type":\s*"(?:vm-phase|step-started|execution-started|execution-resumed|execution-finished)"/;

/** One stored event (its JSON payload) into the fold. */
export function applyEvent(fold: TimelineFold, shape: TimelineShape, raw: string): void {
  if (!FOLDED.test(raw)) return;
  let event: Record<string, unknown>;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return;
    event = parsed as Record<string, unknown>;
  } catch {
    return;
  }
  const at = str(event.at);
  switch (event.type) {
    case 'vm-phase': {
      const row = fold.rows.get(str(event.vm) ?? '');
      const phase = str(event.phase);
      if (row === undefined || phase === undefined) return;
      const state = stateOf(phase);
      const previous = row.state;
      row.state = state;
      if (phase === state) delete row.phase;
      else row.phase = phase;
      if (state !== 'waiting' && row.startedAt === undefined && at !== undefined) row.startedAt = at;
      if (state === 'ready' || state === 'failed') {
        // When it got there; a later phase (committed, cleaned-up) keeps the recovery's end.
        if ((row.endedAt === undefined || previous === 'failed') && at !== undefined) row.endedAt = at;
      } else delete row.endedAt;
      return;
    }
    case 'step-started': {
      const step = str(event.step) ?? '';
      // A VM's own steps are `<vm>/<kind>`; the shape also names the actions attached to a VM.
      const slash = step.indexOf('/');
      const vm = shape.vmOfStep.get(step) ?? (slash > 0 ? step.slice(0, slash) : undefined);
      const row = vm === undefined ? undefined : fold.rows.get(vm);
      if (row !== undefined) row.step = step;
      return;
    }
    case 'execution-started':
    case 'execution-resumed':
      if (fold.startedAt === undefined && at !== undefined) fold.startedAt = at;
      return;
    case 'execution-finished':
      if (at !== undefined) fold.finishedAt = at;
      return;
    default:
      return;
  }
}

const PAGE = 20_000;

/** A saved fold: a cache, rebuilt from the log when absent or of another version. */
interface SavedFold {
  v: 1;
  cursor: string;
  waves: number;
  rows: VmRow[];
  startedAt?: string;
  finishedAt?: string;
}

/** How long a saved fold is kept after its last save. @defaultValue 30 days */
export const SAVED_FOLD_TTL_S = 30 * 86_400;

const savedKey = (prefix: string, execution: string): string => `${prefix}:dash:timeline:${execution}`;

export async function saveFold(
  redis: Redis,
  prefix: string,
  execution: string,
  fold: TimelineFold,
  waves: number,
): Promise<void> {
  const saved: SavedFold = {
    v: 1,
    cursor: fold.cursor,
    waves,
    rows: [...fold.rows.values()],
    ...(fold.startedAt === undefined ? {} : { startedAt: fold.startedAt }),
    ...(fold.finishedAt === undefined ? {} : { finishedAt: fold.finishedAt }),
  };
  await redis.set(savedKey(prefix, execution), JSON.stringify(saved), 'EX', SAVED_FOLD_TTL_S);
}

/** A saved fold and the shape it implies (the VMs and their waves), or undefined. */
export async function loadFold(
  redis: Redis,
  prefix: string,
  execution: string,
): Promise<{ fold: TimelineFold; shape: TimelineShape & { waves: number } } | undefined> {
  const text = await redis.get(savedKey(prefix, execution));
  if (text === null) return undefined;
  let saved: SavedFold;
  try {
    saved = JSON.parse(text) as SavedFold;
  } catch {
    return undefined;
  }
  if (saved.v !== 1 || !Array.isArray(saved.rows) || typeof saved.cursor !== 'string') return undefined;
  const rows = new Map(saved.rows.map((row) => [row.vm, row]));
  return {
    fold: {
      cursor: saved.cursor,
      rows,
      ...(saved.startedAt === undefined ? {} : { startedAt: saved.startedAt }),
      ...(saved.finishedAt === undefined ? {} : { finishedAt: saved.finishedAt }),
    },
    shape: {
      vms: [...rows.keys()],
      waveOf: new Map(saved.rows.map((row) => [row.vm, row.wave])),
      vmOfStep: new Map(),
      waves: saved.waves,
    },
  };
}

/** Read the events after the fold's cursor into it, in pages. */
export async function catchUp(
  redis: Redis,
  prefix: string,
  execution: string,
  fold: TimelineFold,
  shape: TimelineShape,
): Promise<number> {
  const key = executionKeys(prefix, execution).events;
  let read = 0;
  for (;;) {
    const start = fold.cursor === '0' ? '-' : `(${fold.cursor}`;
    const entries = (await redis.xrange(key, start, '+', 'COUNT', PAGE)) as [string, string[]][];
    for (const [id, fields] of entries) {
      const at = fields.indexOf('e');
      const raw = at === -1 ? undefined : fields[at + 1];
      if (raw !== undefined) applyEvent(fold, shape, raw);
      fold.cursor = id;
    }
    read += entries.length;
    if (entries.length < PAGE) return read;
  }
}
