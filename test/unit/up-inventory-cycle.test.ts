/**
 * `drctl up` on a scaled clock gives its agents an inventory cycle on the world's clock.
 * Regression: `drctl up --speed 50` left the agents on the real-time 30 s cycle, so the vault's
 * inventory was 25 simulated minutes old between two full posts.
 */
import { describe, expect, it } from 'vitest';
import { controlPlaneProcesses, inventoryCycleMs, type UpContext } from '../../engine/cli/up/processes.ts';
import { worldSites } from '../../engine/cli/world-options.ts';

const ctx = (extra: Partial<UpContext> = {}): UpContext => ({
  redis: { port: 1, url: 'redis://127.0.0.1:1', dir: '/tmp/x' },
  sim: { port: 2, url: 'http://127.0.0.1:2', worldArgs: [] },
  api: { port: 3, url: 'https://127.0.0.1:3' },
  vault: { dir: '/tmp/x/vault', agentDir: '/tmp/x/agents' },
  sites: ['dc-east', 'dc-west'],
  prefix: 'dr',
  ...extra,
});

function agentArgs(context: UpContext): string[][] {
  return controlPlaneProcesses(context)
    .flat()
    .filter((p) => p.role === 'agent')
    .map((p) => [...p.args]);
}

const cycleOf = (args: string[]): string | undefined => args[args.indexOf('--inventory-cycle-ms') + 1];

describe('the inventory cycle drctl up gives its agents', () => {
  it('is the 30 s replication cycle on the clock: 600 ms at 50×, real time at 1×, never under 250 ms', () => {
    expect(inventoryCycleMs(50)).toBe(600);
    expect(inventoryCycleMs(1)).toBe(30_000);
    expect(inventoryCycleMs(10_000)).toBe(250);
  });

  it('is passed to every agent as --inventory-cycle-ms', () => {
    const args = agentArgs(ctx({ inventoryCycleMs: 600 }));
    expect(args).toHaveLength(2);
    for (const a of args) expect(cycleOf(a)).toBe('600');
  });

  it("is left to the agent's default when the clock only moves when told (manual)", () => {
    for (const a of agentArgs(ctx())) expect(a).not.toContain('--inventory-cycle-ms');
  });

  it.each([
    [
      '--for-plan with --clock scaled --speed 50',
      { forPlan: 'plans/examples/three-tier.yaml', clock: 'scaled', speed: 50 },
      50,
    ],
    ['--for-plan on its real clock', { forPlan: 'plans/examples/three-tier.yaml' }, 1],
    ["a world file's own scaled clock", { world: 'plans/worlds/three-tier.yaml' }, 10],
    ["a world file's own faster clock", { world: 'plans/worlds/three-site-extended.yaml' }, 600],
    ['--clock manual', { forPlan: 'plans/examples/three-tier.yaml', clock: 'manual' }, undefined],
  ] as const)('reads the speed of %s', async (_name, flags, speed) => {
    const world = await worldSites(flags);
    expect(world.speed).toBe(speed);
    expect(world.sites.length).toBeGreaterThanOrEqual(2);
  });
});
