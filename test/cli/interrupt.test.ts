/**
 * Ctrl-C (SIGINT) on a command that follows an execution: the run goes on in the engine, so the
 * command says how to follow it again and how to stop it, then exits 130 with no stack trace.
 * Real processes: `drctl drill|failover|cancel` against the test Redis and a simulated world, with
 * no orchestrator, so each execution waits, submitted, for as long as the test needs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parsePlan } from '../../engine/plan/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { catalogWorker } from '../support/catalog-worker.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { startDrctl } from './support.ts';

const file = 'plans/examples/three-tier.yaml';

describe('when the operator presses Ctrl-C while a command follows an execution', {
  timeout: 120_000,
}, () => {
  let world: World;
  let server: SimServer;
  const redis = testRedisClient();
  const prefixes: string[] = [];
  beforeAll(async () => {
    const parsed = parsePlan(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`${file} does not parse`);
    world = worldForPlan(parsed.plan, { warmupMs: 5 * 3_600_000 });
    server = await startSimServer(world.api);
  });
  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await server.close();
    world.close();
    await redis.quit();
  });

  async function interrupted(args: string[], prefix: string, seen: string | RegExp) {
    prefixes.push(prefix);
    const proc = startDrctl([...args, '--prefix', prefix], { env: { REDIS_URL: testRedisUrl() } });
    await proc.waitFor(seen);
    proc.child.kill('SIGINT');
    return await proc.done;
  }

  async function executions(prefix: string): Promise<string[]> {
    const keys = await redis.keys(`${prefix}:{exec:*}:meta`);
    return keys.map((key) => key.slice(`${prefix}:{exec:`.length, -'}:meta'.length)).sort();
  }

  it('a drill: it goes on; follow with status/events, end with cleanup; exit 130', async () => {
    const prefix = uniquePrefix('sigint');
    const run = await interrupted(['drill', file, '--sim', server.url], prefix, 'submitted test of plan erp');
    const [id] = await executions(prefix);
    expect(id).toBeDefined();
    expect(run.code).toBe(130);
    expect(run.stderr).toBe(
      [
        `drctl: interrupted; execution ${id} goes on in the engine (Ctrl-C stops only this command)`,
        `  follow it:  drctl status ${id} --prefix ${prefix}   or   drctl events ${id} --follow --prefix ${prefix}`,
        `  end it:     drctl cleanup ${id} --prefix ${prefix}   (once it has finished: removes its test VMs)`,
        '',
      ].join('\n'),
    );
    expect(await redis.hget(`${prefix}:{exec:${id}}:meta`, 'status')).toBe('submitted');
  });

  it('a failover, then the cancel that waits for it: each says how to follow, the failover how to cancel', async () => {
    const prefix = uniquePrefix('sigint');
    // Pre-flight checks update-dns (planned) against the catalog a dc-west worker serves.
    const stopWorker = await catalogWorker(prefix, world);
    onTestFinished(stopWorker);
    const failover = await interrupted(
      ['failover', '--planned', file, '--sim', server.url],
      prefix,
      'submitted planned of plan erp',
    );
    const [id] = await executions(prefix);
    expect(failover.code).toBe(130);
    expect(failover.stderr).toContain(`execution ${id} goes on in the engine`);
    expect(failover.stderr).toContain(`drctl cancel ${id} --prefix ${prefix}   (rolls the failover back`);
    expect(failover.stderr).not.toMatch(/\n\s+at /);

    // `drctl cancel` of a failover still running waits for its in-flight steps: Ctrl-C there too.
    const cancel = await interrupted(['cancel', `${id}`, '--sim', server.url], prefix, 'its rollback');
    expect(cancel.code).toBe(130);
    expect(cancel.stderr).toContain(`drctl: interrupted; execution ${id} goes on in the engine`);
    expect(cancel.stderr).toContain(`drctl status ${id} --prefix ${prefix}`);
    expect(cancel.stderr).not.toMatch(/\n\s+at /);
  });
});
