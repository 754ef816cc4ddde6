/**
 * The cloud shape in real processes, for the agent tests: a `drctl sim serve` child (the sites'
 * hosts), `drctl serve` children (control planes) and one `drctl agent` child per site, on the
 * run's Redis under a unique prefix. Submitting still goes through the Redis-backed client. The
 * control planes share one vault (made here, as `drctl vault init` would): they serve HTTPS and
 * each agent registers with a key of `drctl site register` the first time it starts (issue 12).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedisExecutionClient, type ExecutionClient } from '../../engine/client/index.ts';
import { createRegistrationKey, initVault, vaultFingerprint } from '../../engine/control/vault/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import { createSimClient, type SimClient } from '../../simulators/index.ts';
import { type EngineProcess, spawnDrctl } from '../engine/processes.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

export interface AgentStack {
  prefix: string;
  redisUrl: string;
  simUrl: string;
  sim: SimClient;
  client: ExecutionClient;
  /** A control plane on `port` (0: a free one); resolves with its URL once it listens. */
  serve(port?: number): Promise<{ process: EngineProcess; url: string }>;
  /** `replace`: take the site over from an agent whose session is still live (one just killed). */
  agent(site: string, server: string, options?: { replace?: boolean }): Promise<EngineProcess>;
  close(): Promise<void>;
}

function firstLine(process: EngineProcess): Record<string, unknown> {
  const line =
    process
      .output()
      .split('\n')
      .find((l) => l.startsWith('{')) ?? '{}';
  return JSON.parse(line) as Record<string, unknown>;
}

export async function startAgentStack(
  planFile: string,
  options: { catalog: string; speed?: number },
): Promise<AgentStack> {
  const prefix = uniquePrefix('agent');
  const redisUrl = testRedisUrl();
  const children: EngineProcess[] = [];
  const simChild = spawnDrctl(
    ['sim', 'serve', '--for-plan', planFile, '--clock', 'scaled', '--speed', String(options.speed ?? 100)],
    {},
  );
  children.push(simChild);
  await simChild.ready;
  const simUrl = String(firstLine(simChild).url);
  const sim = createSimClient(simUrl);
  const client = createRedisExecutionClient({ redisUrl, prefix, compile: compilePlan, inventory: sim });
  const env = { REDIS_URL: redisUrl };
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const vaultDir = mkdtempSync(join(tmpdir(), 'drorch-stack-vault-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'drorch-stack-agents-'));
  await initVault({ redis, prefix, dir: vaultDir });
  const registered = new Set<string>();
  return {
    prefix,
    redisUrl,
    simUrl,
    sim,
    client,
    serve: async (port = 0) => {
      const child = spawnDrctl(
        [
          'serve',
          '--port',
          String(port),
          '--prefix',
          prefix,
          '--lease-ms',
          '1000',
          '--shutdown-timeout-ms',
          '2000',
          '--vault-dir',
          vaultDir,
        ],
        env,
      );
      children.push(child);
      await child.ready;
      const url = firstLine(child).api;
      if (typeof url !== 'string') throw new Error(`drctl serve did not start:\n${child.output()}`);
      return { process: child, url };
    },
    agent: async (site, server, { replace = false } = {}) => {
      // Registered once per site; a restarted agent comes back with its saved certificate.
      const register: string[] = [];
      if (!registered.has(site)) {
        const { key } = await createRegistrationKey(
          redis,
          prefix,
          site,
          await vaultFingerprint(redis, prefix),
        );
        register.push('--register', key);
        registered.add(site);
      }
      // No REDIS_URL: an agent reaches the control plane's API only.
      const child = spawnDrctl(
        [
          'agent',
          '--site',
          site,
          '--hosts',
          simUrl,
          '--server',
          server,
          '--script-catalog',
          options.catalog,
          '--shutdown-timeout-ms',
          '2000',
          ...(replace ? ['--replace'] : []),
          '--state-dir',
          stateDir,
          ...register,
        ],
        { REDIS_URL: '' },
      );
      children.push(child);
      await child.ready;
      if (firstLine(child).ready !== true) throw new Error(`drctl agent did not start:\n${child.output()}`);
      return child;
    },
    close: async () => {
      await client.close();
      sim.close();
      await Promise.all(children.map((child) => child.kill('SIGTERM')));
      redis.disconnect();
      rmSync(vaultDir, { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
