/**
 * `drctl status` of an unplanned failover: whether each VM's old primary at the source was fenced
 * (turned off and barred), or not and why, from the `<vm>/fence` results in the event log. A fence
 * recorded warned (source unreachable, deadline passed) that its site's agent carried out later
 * shows as fenced late. An old primary that had started again by then (its site returned before
 * its agent, and Hyper-V's automatic start action started it) ran in two sites: a divergence,
 * shown first and loudly, with how long it ran and what a reprotect would discard; while one
 * stands (no reprotect was allowed to discard it), `drctl status` and the waiting commands exit 1.
 */
import type { ExecutionClient, ExecutionView } from '../../client/index.ts';
import type { EngineEvent } from '../../contract/index.ts';
import {
  divergenceLine,
  divergencesOf,
  standingDivergences,
  type VmDivergence,
} from '../../executor/index.ts';

export interface VmFencing {
  vm: string;
  fenced: boolean;
  /** Fenced by a fence job that finished after the step was recorded as not fenced. */
  late?: boolean;
  /** It had started again at the source before it was fenced: it ran in two sites. */
  diverged?: boolean;
  /** Why not (the warning's message). */
  reason?: string;
}

export interface FencingStatus {
  fencing?: VmFencing[];
  /** Every VM that ran in two sites (acknowledged or not). */
  divergence?: VmDivergence[];
  /** Divergences no reprotect was allowed to discard: the command exits 1 while there is one. */
  standing: number;
  /** The split-brain, shown first: a headline and one line per VM. */
  divergenceLines: string[];
  /** The fences: a headline and one line per VM not fenced. */
  lines: string[];
}

export async function fencingOf(client: ExecutionClient, view: ExecutionView): Promise<FencingStatus> {
  if (view.type !== 'unplanned') return { standing: 0, divergenceLines: [], lines: [] };
  const byVm = new Map<string, VmFencing>();
  const events: EngineEvent[] = [];
  for await (const { event } of client.events(view.id)) {
    if (event.type === 'diverged' || event.type === 'divergence-acknowledged') events.push(event);
    if (event.type === 'diverged' && event.fenced && !byVm.get(event.vm)?.fenced) {
      // The agent's fence sweep fences without a fence step: the divergence says it was fenced.
      byVm.set(event.vm, { vm: event.vm, fenced: true, late: true });
      continue;
    }
    if (event.type !== 'step-finished' || !event.step.endsWith('/fence')) continue;
    const vm = event.step.slice(0, -'/fence'.length);
    const before = byVm.get(vm);
    const fenced = event.outcome === 'done' && event.output?.fenced !== false;
    if (fenced && !before?.fenced)
      byVm.set(vm, { vm, fenced: true, ...(before && !before.fenced ? { late: true } : {}) });
    else if (!fenced && !before?.fenced) {
      const reason = event.error?.message ?? String(event.output?.reason ?? event.outcome);
      byVm.set(vm, { vm, fenced: false, reason });
    }
  }
  const divergence = divergencesOf(events);
  for (const d of divergence) {
    const entry = byVm.get(d.vm);
    if (entry) entry.diverged = true;
  }
  const standing = standingDivergences(divergence);
  const fencing = [...byVm.values()];
  if (fencing.length === 0 && divergence.length === 0)
    return { fencing, standing: 0, divergenceLines: [], lines: [] };
  const not = fencing.filter((f) => !f.fenced);
  const late = fencing.filter((f) => f.late).length;
  const divergenceLines: string[] = [];
  if (divergence.length > 0) {
    divergenceLines.push(
      standing.length > 0
        ? `!! SPLIT-BRAIN: ${standing.length} VM(s) ran in two sites (their old primaries started again at the source); \`drctl reprotect\` refuses to discard their writes without --discard-diverged`
        : `split-brain: ${divergence.length} VM(s) ran in two sites; their diverged writes were acknowledged as discarded`,
      ...divergence.map((d) => `  ${d.acknowledged ? '' : '!! '}${divergenceLine(d)}`),
    );
  }
  const diverged = fencing.filter((f) => f.diverged).length;
  const notes = [
    ...(late > 0 ? [`${late} late, after their site came back`] : []),
    ...(diverged > 0 ? [`${diverged} had started again first: diverged`] : []),
  ];
  const lines = [
    `source fencing: ${fencing.length - not.length} of ${fencing.length} old primaries fenced${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`,
    ...not.map((f) => `  ! ${f.vm.padEnd(22)} NOT fenced: ${f.reason ?? 'unknown'}`),
  ];
  return {
    fencing,
    ...(divergence.length > 0 ? { divergence } : {}),
    standing: standing.length,
    divergenceLines,
    lines,
  };
}
