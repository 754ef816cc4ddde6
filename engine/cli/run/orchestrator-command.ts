/** `drctl orchestrator`: runs executions until SIGTERM/SIGINT, then closes within a bound. */
import type { Command } from 'commander';
import { createLogger } from '../../common/index.ts';
import { startOrchestrator } from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import { untilStopSignal } from '../signals.ts';
import { type CommonFlags, PREFIX_OPTION, printJson, redisUrlFromEnv } from './common.ts';

interface OrchestratorFlags extends CommonFlags {
  leaseMs?: number;
  shutdownTimeoutMs: number;
}

const positive = (value: string): number => {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`expected a positive number, got "${value}"`);
  return n;
};

export function registerOrchestratorCommand(program: Command): void {
  program
    .command('orchestrator')
    .description(
      'Direct path: run executions on Redis (one orchestrator owns each through a lease); REDIS_URL is required. The control plane (drctl serve, drctl up) runs its own, so it needs none',
    )
    .option('--lease-ms <ms>', 'lease of an execution (default: DR_LEASE_MS or 10000)', positive)
    .option(
      '--shutdown-timeout-ms <ms>',
      'on SIGTERM, how long to wait for runners to stop',
      positive,
      10_000,
    )
    .option(...PREFIX_OPTION)
    .option('--json', 'print the ready line as JSON')
    .action(async (flags: OrchestratorFlags) => {
      const redisUrl = await redisUrlFromEnv();
      const orchestrator = await startOrchestrator({
        redisUrl,
        prefix: flags.prefix,
        compile: compilePlan,
        logger: createLogger('orchestrator'),
        ...(flags.leaseMs ? { leaseMs: flags.leaseMs } : {}),
      });
      if (flags.json) printJson({ orchestrator: orchestrator.id, prefix: flags.prefix });
      else process.stdout.write(`orchestrator ${orchestrator.id} running (prefix ${flags.prefix})\n`);
      await untilStopSignal();
      await orchestrator.close(flags.shutdownTimeoutMs);
      // Idle keep-alive sockets (the simulator client's agent) must not keep a stopped process up.
      setTimeout(() => process.exit(0), 1000).unref();
    });
}
