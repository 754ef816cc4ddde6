/**
 * Where a cancel left each VM, from the VM machines (what the engine did, engine/machines): home
 * (its primary restarted at the source), back at the recovery site (its restore could not reach the
 * source, its return brought it up there again), or elsewhere (a step failed). A cancel that
 * returned a VM did not complete: it ends failed, and its error says which VMs are where and what
 * to do, so that it never reads "completed" as if the failover had been rolled back. Pure.
 */
import { NOT_HOME } from './conditional-steps.ts';

export interface CancelOutcome {
  /** Primary restarted at the source (machine `rolledBack`). */
  home: string[];
  /** Running at the recovery site again (machine `returned`), or on the way (`unrestored`, `returning`). */
  returned: string[];
  /** Anything else: a step failed (revert, restore or return), see `drctl status`. */
  other: string[];
}

export function cancelOutcome(vms: readonly { name: string; state: string }[]): CancelOutcome {
  const outcome: CancelOutcome = { home: [], returned: [], other: [] };
  for (const vm of vms) {
    if (vm.state === 'rolledBack') outcome.home.push(vm.name);
    else if (NOT_HOME.has(vm.state)) outcome.returned.push(vm.name);
    else outcome.other.push(vm.name);
  }
  return outcome;
}

/**
 * The error of a cancel that returned VMs to the recovery site, or undefined when none returned.
 * `failover` is the failover the cancel rolls back; `sites` the cancel's (from: the source).
 */
export function cancelIncomplete(
  outcome: CancelOutcome,
  failover: string,
  sites: { fromSite: string; toSite: string },
): string | undefined {
  const { home, returned, other } = outcome;
  if (returned.length === 0) return undefined;
  const { fromSite: from, toSite: to } = sites;
  const one = returned.length === 1;
  const them = one ? 'it' : 'them';
  const parts = [
    `cancel incomplete: ${returned.join(', ')} ${one ? 'runs' : 'run'} at ${to} again (failed over, not committed): ${from} could not be reached to restart ${one ? 'its primary' : 'their primaries'}`,
  ];
  if (home.length > 0) parts.push(`${home.join(', ')} back at ${from}`);
  if (other.length > 0) parts.push(`${other.join(', ')}: a step failed, see \`drctl status ${failover}\``);
  parts.push(
    `when ${from} is back, run \`drctl cancel ${failover}\` again to bring ${them} home, or \`drctl commit ${failover}\` to keep ${them} at ${to}`,
  );
  return parts.join('; ');
}
