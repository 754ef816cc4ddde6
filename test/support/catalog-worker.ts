import { createLogger } from '../../engine/common/index.ts';
import { startSiteWorkers } from '../../engine/executor/index.ts';
import type { World } from '../../simulators/index.ts';
import { testRedisUrl } from './redis.ts';

/**
 * A worker of dc-west serving the shipped script catalog under `prefix`: pre-flight checks
 * three-tier's `update-dns` (runOn dc-west, planned and unplanned) against what it announces.
 * Returns its close.
 */
export async function catalogWorker(prefix: string, world: World): Promise<() => Promise<void>> {
  const workers = startSiteWorkers({
    redisUrl: testRedisUrl(),
    prefix,
    site: 'dc-west',
    api: world.api,
    fenceSweepMs: 0,
    logger: createLogger('test', { level: 'silent', pretty: false }),
    handlers: { scriptCatalog: 'scripts/catalog' },
  });
  await workers.ready();
  return () => workers.close(2000);
}
