/**
 * `drctl locks show|release`: who holds a plan and its VMs, and the operator's way to free the
 * locks of an execution that will not be resumed; through the control plane (`--server`,
 * DR_SERVER) or on REDIS_URL directly.
 */
import type { Command } from 'commander';
import { createHttpLocksClient, createRedisLocksClient, type LocksClient } from '../client/index.ts';
import { InputError } from '../common/index.ts';
import { DEFAULT_LOCK_PREFIX, type LocksView } from '../locks/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { refuseDirectFlags, SERVER_OPTION, serverOf } from './server-option.ts';

interface LockFlags {
  plan?: string;
  vms?: string;
  prefix: string;
  server?: string;
  json?: boolean;
}

export function registerLocksCommand(program: Command): void {
  const locks = program
    .command('locks')
    .description('Execution locks: who holds a plan or VM, and freeing a dead one');
  const common = (command: Command): Command =>
    command
      .option('--plan <name>', 'plan name (metadata.name)')
      .option('--vms <names>', 'VM names, comma-separated')
      .option(...SERVER_OPTION)
      .option('--prefix <prefix>', 'Redis key prefix of the engine', DEFAULT_LOCK_PREFIX)
      .option('--json', 'machine-readable output');
  common(
    locks
      .command('show')
      .description(
        'Show the holder of the plan lock and of each VM lock; with neither --plan nor --vms, every lock held and every VM failed over',
      ),
  ).action(async (flags: LockFlags, command: Command) => {
    const vms = names(flags);
    await withLocks(flags, command, async (client) => {
      const view = await client.show({ ...(flags.plan === undefined ? {} : { plan: flags.plan }), vms });
      if (flags.json) process.stdout.write(`${JSON.stringify(view)}\n`);
      else for (const line of viewLines(view, flags, vms)) process.stdout.write(`${line}\n`);
    });
  });
  common(
    locks
      .command('release')
      .description(
        'Free the plan lock and VM locks whoever holds them (an execution that will not be resumed)',
      ),
  ).action(async (flags: LockFlags, command: Command) => {
    const vms = names(flags);
    if (flags.plan === undefined && vms.length === 0)
      throw new InputError('LOCKS_NOTHING', 'give --plan and/or --vms');
    await withLocks(flags, command, async (client) => {
      const { released } = await client.release({
        ...(flags.plan === undefined ? {} : { plan: flags.plan }),
        vms,
      });
      if (flags.json) process.stdout.write(`${JSON.stringify({ released })}\n`);
      else if (released.length === 0) process.stdout.write('nothing was held\n');
      else
        for (const r of released)
          process.stdout.write(`released ${r.kind} ${r.name} (held by ${holderText(r.holder)})\n`);
    });
  });
}

/** What `drctl locks show` prints: the plan and VMs asked about, or everything held. */
function viewLines(view: LocksView, flags: LockFlags, vms: readonly string[]): string[] {
  const lines: string[] = [];
  const vmLine = (vm: string): string => {
    const holder = view.vms[vm];
    const record = view.failedOver[vm];
    const fo =
      record === undefined
        ? ''
        : `; failed over to ${record.site} by plan ${record.plan} (${record.execution})`;
    return `vm ${vm}: ${holder === undefined ? 'free' : holderText(holder)}${fo}`;
  };
  if ('plan' in view) {
    if (flags.plan !== undefined)
      lines.push(`plan ${flags.plan}: ${view.plan === null ? 'free' : holderText(view.plan)}`);
    for (const vm of vms) lines.push(vmLine(vm));
    return lines;
  }
  const plans = Object.entries(view.plans);
  const held = [...new Set([...Object.keys(view.vms), ...Object.keys(view.failedOver)])].sort();
  if (plans.length + held.length === 0) {
    // The control plane's prefix is its own: name only the one this process used.
    const where = serverOf(flags) === undefined ? ` (prefix ${flags.prefix})` : '';
    return [`no locks held and no VM failed over${where}`];
  }
  for (const [plan, holder] of plans) lines.push(`plan ${plan}: ${holderText(holder)}`);
  for (const vm of held) lines.push(vmLine(vm));
  return lines;
}

function names(flags: LockFlags): string[] {
  return (flags.vms ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function holderText(holder: { execution: string; plan: string; operation?: string; since: string }): string {
  return `execution ${holder.execution} (plan ${holder.plan}${holder.operation === undefined ? '' : `, ${holder.operation}`}${holder.since === '' ? '' : `, since ${holder.since}`})`;
}

async function withLocks(
  flags: LockFlags,
  command: Command,
  work: (client: LocksClient) => Promise<void>,
): Promise<void> {
  const server = serverOf(flags);
  if (server !== undefined) refuseDirectFlags(command, server);
  // Not set, refused, unknown host: one line that says which and what to check.
  const client =
    server !== undefined
      ? createHttpLocksClient(server)
      : await createRedisLocksClient(await checkRedisUrl(process.env.REDIS_URL), flags.prefix);
  try {
    await work(client);
  } finally {
    await client.close();
  }
}
