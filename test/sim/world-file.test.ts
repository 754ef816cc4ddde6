import { describe, expect, it } from 'vitest';
import { createWorld, loadWorldFile, parseWorldText } from '../../simulators/index.ts';

const GOOD = `apiVersion: dr/v1
kind: SimWorld
metadata: { name: w }
spec:
  seed: 5
  sites:
    - name: east
      hosts: [{ name: h1 }]
    - name: west
      hosts: [{ name: h2 }]
  vms:
    - name: vm-1
      site: east
      host: h1
      replication: { site: west, host: h2, frequency: 30s }
`;

describe('world files', () => {
  it('loads both example worlds', async () => {
    for (const file of ['plans/worlds/three-tier.yaml', 'plans/worlds/three-site-extended.yaml']) {
      const result = await loadWorldFile(file);
      expect(result.ok, file).toBe(true);
    }
  });

  it('locates a missing host, an unknown key and a bad frequency at their line and column', () => {
    const text = GOOD.replace('host: h2, frequency: 30s', 'host: h9, frequency: 45s').replace(
      '  seed: 5',
      '  seed: 5\n  colour: blue',
    );
    const result = parseWorldText(text, 'w.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      expect.objectContaining({
        file: 'w.yaml',
        line: 6,
        column: 3,
        path: 'spec.colour',
        message: 'unknown key "colour"',
      }),
      expect.objectContaining({
        line: 16,
        column: 55,
        path: 'spec.vms[0].replication.frequency',
        message: expect.stringMatching(/30s, 5m or 15m/),
      }),
    ]);
    const fixed = parseWorldText(text.replace('45s', '30s').replace('  colour: blue\n', ''), 'w.yaml');
    expect(fixed.ok).toBe(false);
    if (fixed.ok) return;
    expect(fixed.issues).toEqual([
      expect.objectContaining({
        line: 15,
        column: 40,
        path: 'spec.vms[0].replication.host',
        message: "site 'west' has no host 'h9' (hosts: h2)",
      }),
    ]);
  });

  it("enforces extended replication's constraints", () => {
    const text = GOOD.replace(
      '    - name: west\n      hosts: [{ name: h2 }]',
      '    - name: west\n      hosts: [{ name: h2 }]\n    - name: north\n      hosts: [{ name: h3 }]',
    ).replace(
      'replication: { site: west, host: h2, frequency: 30s }',
      'replication:\n        site: west\n        host: h2\n        frequency: 15m\n        extended: { site: north, host: h3, frequency: 5m, appConsistentEvery: 1h }',
    );
    const result = parseWorldText(text, 'x.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.message)).toEqual([expect.stringMatching(/no application-consistent/)]);
    const faster = parseWorldText(text.replace(', appConsistentEvery: 1h', ''), 'x.yaml');
    expect(faster.ok).toBe(false);
    if (faster.ok) return;
    expect(faster.issues[0]).toMatchObject({
      path: 'spec.vms[0].replication.extended.frequency',
      message: expect.stringMatching(/more frequent/),
    });
  });

  it('gives the same truth for the same seed and the same calls, including random faults', async () => {
    async function run(): Promise<string> {
      const loaded = await loadWorldFile('plans/worlds/three-site-extended.yaml');
      if (!loaded.ok) throw new Error('world file invalid');
      const world = createWorld({ ...loaded.spec, clock: { mode: 'manual' } });
      world.advance(20 * 3_600_000);
      await world.api.startVMFailover({ site: 'dc-west', vm: 'sql-01', epoch: 1, mode: 'failover' });
      await world.api.startVM({ site: 'dc-west', vm: 'sql-01', epoch: 1 });
      world.advance(3_600_000);
      return JSON.stringify(world.truth());
    }
    const a = await run();
    expect(await run()).toBe(a);
    expect(JSON.parse(a).faults.length).toBeGreaterThan(2);
  });
});

describe('the world-file JSON Schema', () => {
  it('is committed next to the example worlds, up to date', async () => {
    const { readFile } = await import('node:fs/promises');
    const { worldJsonSchema } = await import('../../simulators/index.ts');
    const committed = JSON.parse(await readFile('plans/worlds/sim-world.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(worldJsonSchema());
  });
});

describe('scheduled faults from a world file', () => {
  it('cuts the east-west link from 6 h to 8 h: exactly the cycles of those two hours are missed', async () => {
    const loaded = await loadWorldFile('plans/worlds/three-site-extended.yaml');
    if (!loaded.ok) throw new Error('world file invalid');
    const { randomFaults: _random, ...spec } = loaded.spec;
    const world = createWorld({ ...spec, clock: { mode: 'manual' } });
    world.advance(24 * 3_600_000);
    const truth = world.truth();
    const eastWest = (vm: string) =>
      truth.replication.vms[vm]?.find((r) => r.from === 'dc-east' && r.to === 'dc-west');
    // Cycles falling in [6 h, 8 h): 2 h / 30 s = 240 for sql-01, 2 h / 5 min = 24 for file-01.
    expect(eastWest('sql-01')).toMatchObject({ totalCycles: 2880, missedCycles: 240 });
    expect(eastWest('file-01')).toMatchObject({ totalCycles: 288, missedCycles: 24 });
    expect(truth.faults.map((f) => f.at)).toEqual(['2026-01-01T06:00:00.000Z', '2026-01-01T08:00:00.000Z']);
  });
});
