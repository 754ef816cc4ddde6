/**
 * docker-compose.yml runs the services `drctl up` runs: Redis (AOF, noeviction), the simulator,
 * the control plane and one agent a site of the world it serves (no Redis credentials). `docker compose config` (or the
 * standalone `docker-compose config`) checks the file where either is installed; it needs no daemon.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Compose {
  services: Record<
    string,
    { command?: string[]; environment?: Record<string, string>; networks?: string[]; volumes?: string[] }
  >;
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
  it('runs an agent for every site of the world its simulator serves, and the control plane; only the control plane has Redis and the vault', () => {
    const sim = compose.services.sim?.command ?? [];
    const worldFile = sim[sim.indexOf('--world') + 1] ?? '';
    const world = parse(readFileSync(worldFile, 'utf8')) as { spec: { sites: Array<{ name: string }> } };
    for (const { name } of world.spec.sites) {
      const agent = compose.services[`agent-${name}`];
      expect(agent?.command).toEqual([
        'agent',
        '--site',
        name,
        '--hosts',
        'http://sim:7070',
        '--server',
        'https://control:7080',
        '--state-dir',
        '/var/lib/drorch/agent',
        '--json',
      ]);
      // Mutual TLS: its key and certificate in a volume of its own (no other service mounts it).
      expect(agent?.volumes).toEqual([`agent-${name}:/var/lib/drorch/agent`]);
      expect(agent?.environment).toBeUndefined();
      // No network an agent is on reaches Redis.
      for (const network of agent?.networks ?? [])
        expect(compose.services.redis?.networks).not.toContain(network);
      expect(agent?.networks).toEqual(
        expect.arrayContaining(compose.services.control?.networks?.filter((n) => n !== 'vault') ?? []),
      );
    }
    expect(compose.services.control?.command).toEqual([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '7080',
      '--vault-dir',
      '/var/lib/drorch/vault',
      '--tls-name',
      'control',
      '--json',
    ]);
    // HTTPS with the vault's certificate, its key file in the control plane's volume alone.
    expect(compose.services.control?.volumes).toEqual(['vault:/var/lib/drorch/vault']);
    for (const [name, service] of Object.entries(compose.services))
      if (name !== 'control')
        expect(service.volumes?.some((v) => v.startsWith('vault:')) ?? false, name).toBe(false);
    expect(compose.services.control?.environment).toEqual({ REDIS_URL: 'redis://redis:6379' });
    expect(compose.services.redis?.command).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
  });

  const tool = composeTool();
  it.skipIf(tool === undefined)('passes `docker compose config`', () => {
    const [command = '', ...args] = tool ?? [];
    const run = spawnSync(command, [...args, 'config', '--services'], { encoding: 'utf8' });
    expect(run.stderr).not.toMatch(/error|invalid/i);
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n').sort()).toEqual(
      ['agent-dc-east', 'agent-dc-west', 'control', 'redis', 'sim'].sort(),
    );
  });
});
