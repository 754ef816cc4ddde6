/**
 * `drctl protect <plan> --automatic-start-action Nothing`: Set-VM -AutomaticStartAction on each
 * primary of the plan (wherever it runs as the primary now). With Nothing, a site that is lost and
 * returns before its agent starts none of them beside the VMs recovered elsewhere (the split-brain
 * pre-flight warns of, AUTOMATIC_START_ACTION). The engine's fence bars the automatic start of the
 * old primaries it reaches; this covers those it cannot. Each call carries the VM's current epoch
 * (it takes no VM from the execution that owns it). Exit 0 when every VM has the action, 1 when a
 * VM could not be set (named, with the host's answer), 2 for bad input.
 */
import { type Command, Option } from 'commander';
import { InputError } from '../common/index.ts';
import type { AutomaticStartAction, HostDriver, VmView } from '../hosts/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';
import { connectHostDriver, SIM_OPTION_HELP, simUrlFrom } from './host-driver.ts';
import { loadPlanOrExit, printJson } from './run/common.ts';

const ACTIONS: readonly AutomaticStartAction[] = ['Nothing', 'StartIfRunning', 'Start'];

interface ProtectFlags {
  automaticStartAction: AutomaticStartAction;
  vms?: string;
  sim?: string;
  json?: boolean;
}

/** One VM's outcome. */
export interface ProtectRow {
  vm: string;
  site?: string;
  before?: AutomaticStartAction;
  after?: AutomaticStartAction;
  changed: boolean;
  error?: { code: string; message: string };
}

export function registerProtectCommand(program: Command): void {
  program
    .command('protect <plan>')
    .description(
      "Set the automatic start action of the plan's primaries (Set-VM -AutomaticStartAction), so a lost site that returns starts none of them",
    )
    .addOption(
      new Option('--automatic-start-action <action>', 'what a returning host does with the primary')
        .choices(ACTIONS)
        .makeOptionMandatory(),
    )
    .option('--vms <names>', 'only these VMs of the plan, comma-separated')
    .option('--sim <url>', SIM_OPTION_HELP)
    .option('--json', 'machine-readable output')
    .action(async (file: string, flags: ProtectFlags) => {
      const { plan } = await loadPlanOrExit(file);
      const url = simUrlFrom(flags.sim, 'protect sets the action on the hosts');
      const vms = selectVms(plan, flags.vms, file);
      const driver = connectHostDriver(url);
      try {
        const rows = await setAutomaticStartActions(driver, plan, vms, flags.automaticStartAction);
        const failed = rows.filter((r) => r.error !== undefined);
        if (flags.json) printJson({ ok: failed.length === 0, action: flags.automaticStartAction, vms: rows });
        else {
          for (const row of rows) process.stdout.write(`${rowLine(row)}\n`);
          const changed = rows.filter((r) => r.changed).length;
          process.stdout.write(
            `${rows.length - failed.length} of ${rows.length} primaries have automatic start action ${flags.automaticStartAction} (${changed} changed)${failed.length > 0 ? `; ${failed.length} FAILED` : ''}\n`,
          );
        }
        if (failed.length > 0) process.exitCode = 1;
      } finally {
        driver.close();
      }
    });
}

function selectVms(plan: RecoveryPlan, names: string | undefined, file: string): string[] {
  const all = plan.vms.map((v) => v.name);
  if (names === undefined) return all;
  const wanted = names
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length > 0 || wanted.length === 0)
    throw new InputError(
      'UNKNOWN_VM',
      `--vms: ${unknown.length > 0 ? `${unknown.join(', ')} not in plan ${plan.metadata.name} (${file})` : 'name at least one VM'}`,
    );
  return wanted;
}

/**
 * Per VM: find its primary (the plan's source first, then its target: after a reprotect the
 * primaries run there), and set its automatic start action unless it has it already.
 */
export async function setAutomaticStartActions(
  driver: HostDriver,
  plan: RecoveryPlan,
  vms: readonly string[],
  action: AutomaticStartAction,
): Promise<ProtectRow[]> {
  return await Promise.all(
    vms.map(async (vm): Promise<ProtectRow> => {
      let primary: VmView | undefined;
      let lastError: unknown;
      for (const site of [plan.source, plan.target]) {
        try {
          const view = await driver.getVM(site, vm);
          const mode = view.replication?.mode ?? 'None';
          if (!view.isTest && (mode === 'Primary' || mode === 'None')) {
            primary = view;
            break;
          }
        } catch (error) {
          lastError = error;
        }
      }
      if (primary === undefined) return { vm, changed: false, error: errorOf(lastError, vm, plan) };
      const base = { vm, site: primary.site, before: primary.automaticStartAction };
      if (primary.automaticStartAction === action) return { ...base, after: action, changed: false };
      try {
        const after = await driver.setVMAutomaticStartAction({
          site: primary.site,
          vm,
          epoch: primary.epoch,
          action,
        });
        return { ...base, after: after.automaticStartAction, changed: true };
      } catch (error) {
        return { ...base, changed: false, error: errorOf(error, vm, plan) };
      }
    }),
  );
}

function errorOf(error: unknown, vm: string, plan: RecoveryPlan): { code: string; message: string } {
  if (error === undefined)
    return {
      code: 'NO_PRIMARY',
      message: `${vm} runs as the primary at neither ${plan.source} nor ${plan.target}`,
    };
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'HOST_ERROR';
  return { code, message: error instanceof Error ? error.message : String(error) };
}

function rowLine(row: ProtectRow): string {
  const where = `${row.vm.padEnd(24)} ${row.site ? `@${row.site}` : ''}`.padEnd(36);
  if (row.error) return `  ! ${where} FAILED: ${row.error.code}: ${row.error.message}`;
  return row.changed ? `  ${where} ${row.before} → ${row.after}` : `  ${where} already ${row.after}`;
}
