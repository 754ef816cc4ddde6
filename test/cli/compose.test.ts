/**
 * docker-compose.yml runs the services `drctl up` runs: Redis (AOF, noeviction), the simulator,
 * the control side and one worker a site of the world it serves. `docker compose config` (or the
 * standalone `docker-compose config`) checks the file where either is installed; it needs no daemon.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Compose {
  services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
}

// merge: the services share the x-drctl block through YAML merge keys (<<), as compose reads them.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as Compose;

/** `docker compose`, else `docker-compose`, else undefined. */
function composeTool(): string[] | undefined {
  for (const tool of [['docker', 'compose'], ['docker-compose']]) {
    const probe = spawnSync(tool[0] ?? '', [...tool.slice(1), 'version'], { encoding: 'utf8' });
    if (probe.status === 0) return tool;
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  it('runs a worker for every site of the world its simulator serves, and the control side', () => {
    const sim = compose.services.sim?.command ?? [];
    const worldFile = sim[sim.indexOf('--world') + 1] ?? '';
    const world = parse(readFileSync(worldFile, 'utf8')) as { spec: { sites: Array<{ name: string }> } };
    for (const { name } of world.spec.sites) {
      expect(compose.services[`worker-${name}`]?.command).toEqual(['worker', '--site', name, '--json']);
    }
    expect(compose.services.orchestrator?.command).toEqual(['orchestrator', '--json']);
    expect(compose.services['worker-control']?.command).toEqual(['worker', '--site', 'control', '--json']);
    expect(compose.services.redis?.command).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
    expect(compose.services['worker-dc-east']?.environment).toEqual({
      REDIS_URL: 'redis://redis:6379',
      DR_SIM_URL: 'http://sim:7070',
    });
  });

  const tool = composeTool();
  it.skipIf(tool === undefined)('passes `docker compose config`', () => {
    const [command = '', ...args] = tool ?? [];
    const run = spawnSync(command, [...args, 'config', '--services'], { encoding: 'utf8' });
    expect(run.stderr).not.toMatch(/error|invalid/i);
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n').sort()).toEqual(
      ['orchestrator', 'redis', 'sim', 'worker-control', 'worker-dc-east', 'worker-dc-west'].sort(),
    );
  });
});
