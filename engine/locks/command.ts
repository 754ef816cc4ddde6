import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { InputError } from '../common/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { readFailedOver } from './failed-over.ts';
import { readAllLocks } from './list.ts';
import { forceRelease, readLocks, readPlanLock } from './locks.ts';

/**
 * The engine's default key prefix (engine/executor's DEFAULT_PREFIX), repeated here so the
 * executor can import engine/locks without an import cycle.
 */
export const DEFAULT_LOCK_PREFIX = 'dr';

interface LockFlags {
  plan?: string;
  vms?: string;
  prefix: string;
  json?: boolean;
}

/**
 * `drctl locks show|release`: who holds a plan and its VMs, and the operator's way to free the
 * locks of an execution that will not be resumed. REDIS_URL names the engine's Redis.
 */
export function registerLocksCommand(program: Command): void {
  const locks = program
    .command('locks')
    .description('Execution locks: who holds a plan or VM, and freeing a dead one');
  const common = (command: Command): Command =>
    command
      .option('--plan <name>', 'plan name (metadata.name)')
      .option('--vms <names>', 'VM names, comma-separated')
      .option('--prefix <prefix>', 'Redis key prefix of the engine', DEFAULT_LOCK_PREFIX)
      .option('--json', 'machine-readable output');
  common(
    locks
      .command('show')
      .description(
        'Show the holder of the plan lock and of each VM lock; with neither --plan nor --vms, every lock held and every VM failed over',
      ),
  ).action(async (flags: LockFlags) => {
    await withRedis(async (redis) => {
      const vms = names(flags);
      if (flags.plan === undefined && vms.length === 0) return showAll(redis, flags);
      const plan = flags.plan === undefined ? undefined : await readPlanLock(redis, flags.prefix, flags.plan);
      const held = await readLocks(redis, flags.prefix, vms);
      const failedOver = await readFailedOver(redis, flags.prefix, vms);
      if (flags.json) {
        const out = {
          plan: plan ?? null,
          vms: Object.fromEntries(held),
          failedOver: Object.fromEntries(failedOver),
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      if (flags.plan !== undefined)
        process.stdout.write(`plan ${flags.plan}: ${plan === undefined ? 'free' : holderText(plan)}\n`);
      for (const vm of vms) {
        const holder = held.get(vm);
        const record = failedOver.get(vm);
        const fo =
          record === undefined
            ? ''
            : `; failed over to ${record.site} by plan ${record.plan} (${record.execution})`;
        process.stdout.write(`vm ${vm}: ${holder === undefined ? 'free' : holderText(holder)}${fo}\n`);
      }
    });
  });
  common(
    locks
      .command('release')
      .description(
        'Free the plan lock and VM locks whoever holds them (an execution that will not be resumed)',
      ),
  ).action(async (flags: LockFlags) => {
    const vms = names(flags);
    if (flags.plan === undefined && vms.length === 0)
      throw new InputError('LOCKS_NOTHING', 'give --plan and/or --vms');
    await withRedis(async (redis) => {
      const released = await forceRelease(redis, flags.prefix, {
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

/** `drctl locks show` with no flags: everything held under the prefix. */
async function showAll(redis: Redis, flags: LockFlags): Promise<void> {
  const all = await readAllLocks(redis, flags.prefix);
  if (flags.json) {
    const out = {
      plans: Object.fromEntries(all.plans),
      vms: Object.fromEntries(all.vms),
      failedOver: Object.fromEntries(all.failedOver),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  if (all.plans.size + all.vms.size + all.failedOver.size === 0) {
    process.stdout.write(`no locks held and no VM failed over (prefix ${flags.prefix})\n`);
    return;
  }
  for (const [plan, holder] of all.plans) process.stdout.write(`plan ${plan}: ${holderText(holder)}\n`);
  const vms = [...new Set([...all.vms.keys(), ...all.failedOver.keys()])].sort();
  for (const vm of vms) {
    const holder = all.vms.get(vm);
    const record = all.failedOver.get(vm);
    const fo =
      record === undefined
        ? ''
        : `; failed over to ${record.site} by plan ${record.plan} (${record.execution})`;
    process.stdout.write(`vm ${vm}: ${holder === undefined ? 'free' : holderText(holder)}${fo}\n`);
  }
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

async function withRedis(work: (redis: Redis) => Promise<void>): Promise<void> {
  // Not set, refused, unknown host: one line that says which and what to check.
  const url = await checkRedisUrl(process.env.REDIS_URL);
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await work(redis);
  } finally {
    redis.disconnect();
  }
}
