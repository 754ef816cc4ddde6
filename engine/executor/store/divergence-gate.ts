/**
 * Reprotect's divergence check. Set-VMReplication -Reverse resynchronizes each old primary from
 * its recovered VM: whatever an old primary wrote while it ran beside it (a divergence, recorded in
 * the failover's log by the site agents, handlers/divergence.ts) is overwritten. So a reprotect
 * that would do that is refused, naming each VM and what would be discarded, unless the operator
 * said so for those VMs (`drctl reprotect --discard-diverged <vm,...|all> --reason`); that
 * acknowledgement is recorded (who, when, why) in the failover's log and the reprotect's.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import type { Divergence } from '../../contract/index.ts';
import type { HostDriver } from '../../hosts/index.ts';
import { sitesOf } from '../../schedule/index.ts';
import { divergenceLine, divergencesOf, standingDivergences, type VmDivergence } from '../divergence.ts';
import { appendEvents, readAllEvents } from '../events.ts';
import { divergedEvent, runsAsPrimary } from '../handlers/divergence.ts';
import { loadExecution, loadPlanSnapshot } from './execution-record.ts';

/** An operator's leave to discard diverged writes (`--discard-diverged`, `--reason`). */
export interface DiscardDiverged {
  vms: readonly string[] | 'all';
  by: string;
  reason: string;
  /** When the operator gave it. @defaultValue now */
  givenAt?: string;
}

/**
 * Reprotect's own look at the hosts (when it has a driver): each of the failover's old primaries
 * that runs as a primary now, beside its recovered VM, is a divergence the agents have not fenced
 * yet (their site's agent is still away). Recorded in the failover's log (`reprotect-check`,
 * fenced: false); nothing on the hosts is changed. An old primary that cannot be read is left to
 * the reprotect's own steps. Returns what it recorded.
 */
export async function recordRunningOldPrimaries(
  driver: Pick<HostDriver, 'now' | 'getVM' | 'measureVMReplication'>,
  redis: Redis,
  prefix: string,
  failover: string,
): Promise<Divergence[]> {
  const { record } = await loadExecution(redis, prefix, failover);
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const { fromSite, toSite } = sitesOf({ plan, direction: record.direction });
  const found = await Promise.all(
    plan.vms.map(async (vm): Promise<Divergence | undefined> => {
      try {
        const seenAt = await driver.now();
        const view = await driver.getVM(fromSite, vm.name);
        if (!runsAsPrimary(view) || view.epoch > record.epoch) return undefined;
        const pending = await driver
          .measureVMReplication(fromSite, vm.name)
          .then((m) => m.pendingBytes)
          .catch(() => undefined);
        const from = Date.parse(seenAt) - Math.max(0, view.uptimeSec) * 1000;
        const since = view.replication?.lastReplicationTime;
        return {
          vm: vm.name,
          site: fromSite,
          runsAt: toSite,
          ranFrom: new Date(from).toISOString(),
          ranUntil: seenAt,
          ranMs: Math.max(0, Date.parse(seenAt) - from),
          fenced: false,
          discard: {
            ...(since === undefined ? {} : { since }),
            ...(pending === undefined ? {} : { bytes: pending }),
          },
          detectedBy: 'reprotect-check',
        };
      } catch {
        return undefined;
      }
    }),
  );
  const divergences = found.filter((d): d is Divergence => d !== undefined);
  await appendEvents(
    redis,
    prefix,
    divergences.map((d) => divergedEvent(failover, d)),
  );
  return divergences;
}

/** The standing divergences among `vms` of a failover, read from its log. */
export async function standingDivergencesOf(
  redis: Redis,
  prefix: string,
  failover: string,
  vms: readonly string[],
): Promise<VmDivergence[]> {
  const events = (await readAllEvents(redis, prefix, failover)).map((e) => e.event);
  const wanted = new Set(vms);
  return standingDivergences(divergencesOf(events)).filter((d) => wanted.has(d.vm));
}

/**
 * Refuses (DIVERGED, exit 1) a reprotect of `vms` that would discard a standing divergence the
 * operator did not name; refuses (exit 2) a `--discard-diverged` naming a VM without one. Returns
 * the divergences the reprotect may discard (to record with acknowledgeDivergence once submitted).
 */
export async function divergenceGate(
  redis: Redis,
  prefix: string,
  failover: string,
  vms: readonly string[],
  discard: DiscardDiverged | undefined,
): Promise<VmDivergence[]> {
  const standing = await standingDivergencesOf(redis, prefix, failover, vms);
  const named = discard === undefined ? [] : discard.vms === 'all' ? standing.map((d) => d.vm) : discard.vms;
  if (discard !== undefined) {
    const diverged = new Set(standing.map((d) => d.vm));
    const stray = named.filter((vm) => !diverged.has(vm));
    if (stray.length > 0 || named.length === 0) {
      throw new DrError(
        'NOT_DIVERGED',
        named.length === 0
          ? `--discard-diverged: no VM of failover ${failover} ran in two sites (or its divergence was acknowledged already); drop the option`
          : `--discard-diverged: ${stray.join(', ')} did not run in two sites in failover ${failover}${standing.length > 0 ? ` (diverged: ${standing.map((d) => d.vm).join(', ')})` : ''}; name only those (\`drctl status ${failover}\`)`,
        { exitCode: 2 },
      );
    }
  }
  const allowed = new Set(named);
  const refused = standing.filter((d) => !allowed.has(d.vm));
  if (refused.length > 0) {
    const list = refused.map((d) => d.vm).join(',');
    throw new DrError(
      'DIVERGED',
      [
        `reprotect of failover ${failover} refused, nothing changed: ${refused.length} VM(s) ran in two sites, and reversing their replication would overwrite what their old primaries wrote meanwhile:`,
        ...refused.map((d) => `  ${divergenceLine(d)}`),
        `Recover what you need from those old primaries first (they are ${refused.every((d) => d.fenced) ? 'off and barred' : 'not all fenced'}), then run the reprotect again with --discard-diverged ${list} (or all) --reason "<why>" (recorded in the event log).`,
      ].join('\n'),
      { exitCode: 1, details: { vms: refused.map((d) => d.vm) } },
    );
  }
  return standing.filter((d) => allowed.has(d.vm));
}

/** Records the operator's leave in the failover's log and the reprotect's (`divergence-acknowledged`). */
export async function acknowledgeDivergence(
  redis: Redis,
  prefix: string,
  failover: string,
  reprotect: string,
  discarded: readonly VmDivergence[],
  discard: DiscardDiverged,
): Promise<void> {
  if (discarded.length === 0) return;
  const at = new Date().toISOString();
  const base = {
    v: 1 as const,
    at,
    type: 'divergence-acknowledged' as const,
    reprotect,
    vms: discarded.map((d) => d.vm),
    by: discard.by,
    reason: discard.reason,
    givenAt: discard.givenAt ?? at,
  };
  await appendEvents(redis, prefix, [
    { ...base, execution: failover },
    { ...base, execution: reprotect },
  ]);
}
