/**
 * Divergences (a VM that ran in two sites) as a failover's event log records them: the `diverged`
 * events the site agents write when they find an old primary running after its VM failed over
 * (handlers/divergence.ts), and the `divergence-acknowledged` events of a reprotect the operator
 * allowed to discard them. Pure: status, events, the waiting commands and reprotect's check read
 * the same fold.
 */
import type { Divergence, EngineEvent } from '../contract/index.ts';
import { formatDuration } from '../plan/index.ts';

/** One VM's divergence: every time its old primary was seen running, and whether an operator let it go. */
export interface VmDivergence {
  vm: string;
  /** Each sighting, in the order they were recorded. */
  episodes: Divergence[];
  /** ranMs of every episode, host time. */
  totalRanMs: number;
  /** The newest sighting's discard: what a reprotect would overwrite now. */
  discard: Divergence['discard'];
  /** The newest sighting fenced it (off and barred); false: it may still run. */
  fenced: boolean;
  /** Set when a reprotect was allowed to discard it, after its last sighting. */
  acknowledged?: { by: string; reason: string; givenAt: string; reprotect: string };
}

/** Every VM that diverged, in the order first seen. A VM seen again after an acknowledgement stands again. */
export function divergencesOf(events: Iterable<EngineEvent>): VmDivergence[] {
  const byVm = new Map<string, VmDivergence>();
  for (const event of events) {
    if (event.type === 'diverged') {
      const { v: _v, at: _at, type: _type, execution: _execution, ...divergence } = event;
      const entry = byVm.get(event.vm) ?? {
        vm: event.vm,
        episodes: [],
        totalRanMs: 0,
        discard: {},
        fenced: false,
      };
      const previous = entry.episodes.at(-1);
      if (previous !== undefined && sameRun(previous, divergence)) {
        // The same run seen twice (a sweep and a late fence, or a fence that failed and a later
        // one): one episode from the earlier start to the later end.
        const from = Math.min(Date.parse(previous.ranFrom), Date.parse(divergence.ranFrom));
        const until = Math.max(Date.parse(previous.ranUntil), Date.parse(divergence.ranUntil));
        entry.totalRanMs -= previous.ranMs;
        entry.episodes[entry.episodes.length - 1] = {
          ...divergence,
          ranFrom: new Date(from).toISOString(),
          ranUntil: new Date(until).toISOString(),
          ranMs: until - from,
          fenced: divergence.fenced || previous.fenced,
        };
      } else entry.episodes.push(divergence);
      const last = entry.episodes.at(-1) ?? divergence;
      entry.totalRanMs += last.ranMs;
      entry.discard = divergence.discard;
      entry.fenced = last.fenced;
      delete entry.acknowledged;
      byVm.set(event.vm, entry);
    } else if (event.type === 'divergence-acknowledged') {
      for (const vm of event.vms) {
        const entry = byVm.get(vm);
        if (entry === undefined) continue;
        entry.acknowledged = {
          by: event.by,
          reason: event.reason,
          givenAt: event.givenAt,
          reprotect: event.reprotect,
        };
      }
    }
  }
  return [...byVm.values()];
}

/**
 * The later sighting began before the earlier one ended. A time that does not parse (stored
 * before the agents' times were checked) never merges: both episodes stand as they were written.
 */
function sameRun(previous: Divergence, next: Divergence): boolean {
  const times = [previous.ranFrom, previous.ranUntil, next.ranFrom, next.ranUntil].map(Date.parse);
  if (times.some((t) => !Number.isFinite(t))) return false;
  return Date.parse(next.ranFrom) < Date.parse(previous.ranUntil);
}

/** The divergences no operator has acknowledged: while one stands, status and the waiting commands exit 1. */
export function standingDivergences(divergences: readonly VmDivergence[]): VmDivergence[] {
  return divergences.filter((d) => d.acknowledged === undefined);
}

/** Whole seconds, as `12m5s` (host time). */
export function ranFor(ms: number): string {
  // A stored ranMs that is not a number (an old or forged event) is said, not thrown on.
  if (!Number.isFinite(ms)) return 'an unknown time';
  return formatDuration(Math.round(Math.max(0, ms) / 1000) * 1000);
}

/** What a reprotect would discard, as an operator reads it: "its writes since <time>, ~N MB". */
export function discardText(discard: Divergence['discard']): string {
  const since = discard.since === undefined ? 'since its last replication' : `since ${discard.since}`;
  const size = discard.bytes === undefined ? '' : `, ~${(discard.bytes / 1024 / 1024).toFixed(1)} MB`;
  return `its writes ${since}${size}`;
}

/** One line per VM: where and how long it ran, whether it still may, what reprotect would discard. */
export function divergenceLine(d: VmDivergence): string {
  const first = d.episodes[0];
  const last = d.episodes.at(-1);
  if (first === undefined || last === undefined) return `${d.vm}: diverged`;
  const times = d.episodes.length > 1 ? ` (${d.episodes.length} times)` : '';
  const span = `host time ${first.ranFrom} → ${last.ranUntil}`;
  const state = d.fenced ? 'fenced' : `NOT fenced: it may still run at ${last.site}`;
  const ack = d.acknowledged
    ? `; discard acknowledged by ${d.acknowledged.by} for ${d.acknowledged.reprotect}: ${d.acknowledged.reason}`
    : `; reprotect would discard ${discardText(d.discard)}`;
  return `${d.vm} ran at ${last.site} for ${ranFor(d.totalRanMs)}${times} while failed over to ${last.runsAt} (${span}), ${state}${ack}`;
}
