/**
 * `drctl status` of an unplanned failover: whether each VM's old primary at the source was fenced
 * (turned off and barred), or not and why, from the `<vm>/fence` results in the event log. A fence
 * recorded warned (source unreachable, deadline passed) that its site's agent carried out later
 * shows as fenced late.
 */
import type { ExecutionClient, ExecutionView } from '../../client/index.ts';

export interface VmFencing {
  vm: string;
  fenced: boolean;
  /** Fenced by a fence job that finished after the step was recorded as not fenced. */
  late?: boolean;
  /** Why not (the warning's message). */
  reason?: string;
}

export async function fencingOf(
  client: ExecutionClient,
  view: ExecutionView,
): Promise<{ fencing?: VmFencing[]; lines: string[] }> {
  if (view.type !== 'unplanned') return { lines: [] };
  const byVm = new Map<string, VmFencing>();
  for await (const { event } of client.events(view.id)) {
    if (event.type !== 'step-finished' || !event.step.endsWith('/fence')) continue;
    const vm = event.step.slice(0, -'/fence'.length);
    const before = byVm.get(vm);
    const fenced = event.outcome === 'done' && event.output?.fenced !== false;
    if (fenced) byVm.set(vm, { vm, fenced: true, ...(before && !before.fenced ? { late: true } : {}) });
    else if (!before?.fenced) {
      const reason = event.error?.message ?? String(event.output?.reason ?? event.outcome);
      byVm.set(vm, { vm, fenced: false, reason });
    }
  }
  const fencing = [...byVm.values()];
  if (fencing.length === 0) return { fencing, lines: [] };
  const not = fencing.filter((f) => !f.fenced);
  const late = fencing.filter((f) => f.late).length;
  const lines = [
    `source fencing: ${fencing.length - not.length} of ${fencing.length} old primaries fenced${late > 0 ? ` (${late} late, after their site came back)` : ''}`,
    ...not.map((f) => `  ! ${f.vm.padEnd(22)} NOT fenced: ${f.reason ?? 'unknown'}`),
  ];
  return { fencing, lines };
}
