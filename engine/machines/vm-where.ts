/**
 * Where a VM runs, from the state its machine recorded (what the engine did to it, not what a
 * host says now): at the site it came from, at the site it goes to, or nowhere (off at the source,
 * not yet started at the target). A planned failover paused after a shutdown, or a boot that
 * failed, leaves a VM running nowhere: status says so loudly instead of "waiting". Pure.
 */
import type { VmMode } from './vm-machine.ts';
import type { VmSnapshot } from './vm-snapshot.ts';

export interface VmWhere {
  /**
   * runs: at `site` (its production copy; a drill's test copy is named in `text`); starting /
   * stopping: at `site`, on its way; nowhere: off in both sites; unknown: the engine cannot tell
   * (a step failed half-way, or an unplanned failover's lost source), see `text`.
   */
  state: 'runs' | 'starting' | 'stopping' | 'nowhere' | 'unknown';
  site?: string;
  /** The host it runs on, when the engine started it there (its boot step's answer). */
  host?: string;
  /** For people: "runs at dc-west", "RUNS NOWHERE: off at dc-east, not yet started at dc-west". */
  text: string;
}

export interface VmWhereContext {
  /** Where the execution moves VMs from and to (engine/schedule's sitesOf). */
  fromSite: string;
  toSite: string;
  /** Unplanned failover: the VM's fence step at the source (done: turned off and barred there). */
  fence?: 'done' | 'warned' | 'failed' | 'pending';
  /** Protect: the site where the VM runs as the primary, as the protect placed its step. */
  primaryAt?: string;
}

const runs = (site: string, note = ''): VmWhere => ({ state: 'runs', site, text: `runs at ${site}${note}` });
const starting = (site: string): VmWhere => ({ state: 'starting', site, text: `starting at ${site}` });
const nowhere = (why: string): VmWhere => ({ state: 'nowhere', text: `RUNS NOWHERE: ${why}` });
const unknown = (why: string): VmWhere => ({ state: 'unknown', text: `UNKNOWN: ${why}` });

/** The error's step kind (`<vm>/<kind>`), for a VM whose machine is `failed`. */
function failedKind(snapshot: VmSnapshot): string {
  const step = snapshot.context.error?.step ?? '';
  return step.slice(step.lastIndexOf('/') + 1);
}

/** Where the VM of `snapshot` runs, in the frame of its execution's sites, with its host when known. */
export function vmWhere(snapshot: VmSnapshot, where: VmWhereContext): VmWhere {
  const found = placeOf(snapshot, where);
  const host = snapshot.context.host;
  if (found.state !== 'runs' || found.site !== where.toSite || host === undefined) return found;
  if (snapshot.context.mode === 'test' || snapshot.context.mode === 'cleanup') return found;
  const head = `runs at ${found.site}`;
  return { ...found, host, text: `${head} on ${host}${found.text.slice(head.length)}` };
}

function placeOf(snapshot: VmSnapshot, where: VmWhereContext): VmWhere {
  const mode: VmMode = snapshot.context.mode;
  const { fromSite: from, toSite: to } = where;
  const state = snapshot.value;
  switch (mode) {
    case 'test':
    case 'cleanup': {
      // A drill never touches production: the primary runs at its source all along.
      const copy: Record<string, string> = {
        failoverInProgress: `; its test copy is being created at ${to}`,
        failedOver: `; its test copy is created at ${to}, not started`,
        booting: `; its test copy is starting at ${to}`,
        awaitingReadiness: `; its test copy runs at ${to}`,
        ready: `; its test copy runs at ${to}`,
        cleaningUp: `; its test copy at ${to} is being removed`,
        failed: `; its test copy at ${to} failed (${failedKind(snapshot)})`,
      };
      return runs(from, copy[state] ?? '');
    }
    case 'reprotect':
    case 'commit':
      return runs(to, state === 'failed' ? ` (${mode} failed: ${failedKind(snapshot)})` : '');
    case 'cancel':
      switch (state) {
        case 'failedOver':
        case 'rollingBack':
          return runs(to, state === 'rollingBack' ? ' (being turned off for the rollback)' : '');
        case 'reverted':
          return nowhere(`its replica at ${to} is off, its primary at ${from} not restarted yet`);
        case 'restoring':
          return starting(from);
        case 'rolledBack':
          return runs(from);
        case 'unrestored':
          return nowhere(`its replica at ${to} is off, its primary at ${from} could not be reached`);
        case 'returning':
          return starting(to);
        case 'returned':
          return runs(
            to,
            ` again (its source ${from} could not be reached; the cancel did not complete for it)`,
          );
        default:
          return unknown(
            `the rollback failed at ${failedKind(snapshot)}; check ${from} and ${to} (\`drctl status\`, the hosts)`,
          );
      }
    case 'change-point':
      switch (state) {
        case 'ready':
          return runs(to);
        case 'failoverInProgress':
        case 'failedOver':
          return nowhere(`off at ${to} while it fails over again from another recovery point`);
        case 'booting':
          return starting(to);
        case 'awaitingReadiness':
          return runs(to, ' (not ready yet)');
        default:
          return failedKind(snapshot) === 'readiness'
            ? runs(to, ' (not ready)')
            : nowhere(`the change of recovery point failed at ${failedKind(snapshot)}: off at ${to}`);
      }
    case 'planned':
    case 'unplanned':
      return failoverWhere(snapshot, mode, where);
    case 'protect':
      // Setting the automatic start action moves nothing: the primary runs where it ran.
      return where.primaryAt === undefined
        ? unknown('the protect did not record where it runs')
        : runs(where.primaryAt, state === 'failed' ? ' (protect failed)' : '');
  }
}

function failoverWhere(snapshot: VmSnapshot, mode: 'planned' | 'unplanned', where: VmWhereContext): VmWhere {
  const { fromSite: from, toSite: to } = where;
  // Unplanned: the source may be lost; what the engine knows of it is its fence.
  const source =
    mode === 'planned'
      ? `off at ${from}`
      : where.fence === 'done'
        ? `fenced (off) at ${from}`
        : `not fenced at ${from} (lost, or still running there)`;
  switch (snapshot.value) {
    case 'protected':
      return mode === 'planned' || where.fence !== 'done'
        ? runs(from, mode === 'unplanned' ? ' (as last known; its site may be lost)' : '')
        : nowhere(`${source}, not yet started at ${to}`);
    case 'shuttingDown':
      return { state: 'stopping', site: from, text: `shutting down at ${from}` };
    case 'preparedForFailover':
    case 'failoverInProgress':
    case 'failedOver':
      return mode === 'planned' || where.fence === 'done'
        ? nowhere(`${source}, not yet started at ${to}`)
        : unknown(`not yet started at ${to}; ${source}`);
    case 'booting':
      return starting(to);
    case 'awaitingReadiness':
      return runs(to, ' (not ready yet)');
    case 'ready':
    case 'committing':
    case 'committed':
    case 'reprotecting':
    case 'reversed':
    case 'protectedReversed':
      return runs(to);
    default: {
      const kind = failedKind(snapshot);
      if (kind === 'readiness') return runs(to, ' (not ready: its readiness check failed)');
      if (kind === 'boot' || (kind === 'failover' && mode === 'planned'))
        return nowhere(`${source}; its ${kind} at ${to} failed`);
      if (kind === 'shutdown') return unknown(`its shutdown at ${from} failed: it may still run there`);
      return unknown(`its ${kind || 'step'} failed; ${source}, not started at ${to}`);
    }
  }
}
