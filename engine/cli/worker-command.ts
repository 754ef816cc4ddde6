import { type Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../common/index.ts';
import { DEFAULT_PREFIX, lockRenewMs, STALL_DEFAULTS, startSiteWorkers } from '../executor/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { connectHostDriver, HOSTS_OPTION_HELP } from './host-driver.ts';

interface WorkerFlags {
  site: string;
  sim: string;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  scriptCatalog?: string;
  shutdownTimeoutMs: number;
  json?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/**
 * `drctl worker --site <site> --sim <url>`: run a site's step workers against the simulated
 * Hyper-V API at <url> until SIGTERM/SIGINT, then finish running jobs (bounded) and exit 0.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      "Direct path: run a site's step workers (its BullMQ queue) on Redis against the simulated Hyper-V API; REDIS_URL is required. With the control plane (drctl serve, drctl up) a site runs `drctl agent` instead",
    )
    .requiredOption('--site <site>', "site whose queue to serve ('control' for control-plane actions)")
    .addOption(new Option('--sim <url>', HOSTS_OPTION_HELP).env('DR_SIM_URL').makeOptionMandatory())
    .option('--prefix <prefix>', 'Redis key prefix shared with the orchestrator', DEFAULT_PREFIX)
    .option('--concurrency <n>', 'jobs run at once', positiveInt, 200)
    .option(
      '--lock-duration-ms <ms>',
      "a job's lock; a dead worker's jobs move on after it (renewed every quarter of it)",
      positiveInt,
      STALL_DEFAULTS.lockDurationMs,
    )
    .option(
      '--stalled-interval-ms <ms>',
      'how often stalled jobs are looked for',
      positiveInt,
      STALL_DEFAULTS.stalledIntervalMs,
    )
    .option('--script-catalog <dir>', 'folder of recovery scripts (default: DR_SCRIPT_CATALOG)')
    .option('--shutdown-timeout-ms <ms>', 'on SIGTERM, how long running jobs may finish', positiveInt, 10_000)
    .option('--json', 'print the ready line as JSON')
    .action(async (flags: WorkerFlags) => {
      const redisUrl = await checkRedisUrl(process.env.REDIS_URL);
      const logger = createLogger('worker');
      // A site agent checks readiness of many VMs at once: guests already heard from need no long poll.
      const sim = connectHostDriver(flags.sim, { readBeforeHeartbeatWait: true });
      const workers = startSiteWorkers({
        redisUrl,
        prefix: flags.prefix,
        site: flags.site,
        api: sim,
        concurrency: flags.concurrency,
        lockDurationMs: flags.lockDurationMs,
        stalledIntervalMs: flags.stalledIntervalMs,
        logger,
        handlers: flags.scriptCatalog === undefined ? {} : { scriptCatalog: flags.scriptCatalog },
      });
      // Signals are handled from the start: a SIGTERM while connecting still closes cleanly.
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          logger.info({ signal }, 'shutting down');
          void workers
            .close(flags.shutdownTimeoutMs)
            .finally(() => sim.close())
            .then(resolve, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      const ready = await Promise.race([workers.ready().then(() => true), stopped.then(() => false)]);
      if (ready) {
        const catalog = flags.scriptCatalog ?? process.env.DR_SCRIPT_CATALOG;
        const line = {
          ready: true,
          site: flags.site,
          queue: workers.queue,
          pid: process.pid,
          ...(catalog ? { scriptCatalog: catalog } : {}),
          // How soon this worker's jobs move on if it dies: lock + check interval.
          lockDurationMs: flags.lockDurationMs,
          lockRenewMs: lockRenewMs(flags.lockDurationMs),
          stalledIntervalMs: flags.stalledIntervalMs,
        };
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(line)}\n`
            : `worker for ${flags.site} ready on queue ${workers.queue} (pid ${process.pid}), ${catalog ? `serving the script catalog ${catalog}` : 'serving no script catalog: runs with script actions here are refused at pre-flight'}\n`,
        );
      }
      await stopped;
    });
}
