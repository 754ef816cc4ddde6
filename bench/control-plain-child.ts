/**
 * The control plane WITHOUT its vault (plain HTTP, agents' routes unguarded), for the one
 * measurement that needs it: mTLS and every check on against off (BENCHMARKS.md, Trust). `drctl
 * serve` has no such mode (issue 12); this builds it through the internal API, which the CLI does
 * not reach. Prints `{"api": ...}` when it listens; SIGTERM closes it.
 *
 *   REDIS_URL=... node --import tsx bench/control-plain-child.ts <prefix>
 */
import { createLogger } from '../engine/common/index.ts';
import { controlRoutes, startControlPlane } from '../engine/control/index.ts';

const prefix = process.argv[2] ?? 'bench';
const control = await startControlPlane({
  redisUrl: process.env.REDIS_URL ?? '',
  prefix,
  port: 0,
  routes: controlRoutes,
  logger: createLogger('control', { level: 'warn', pretty: false }),
});
process.stdout.write(`${JSON.stringify({ api: control.url, pid: process.pid, prefix })}\n`);
const stop = async (): Promise<void> => {
  await control.close(5000);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
