import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { parsePlan } from '../../engine/plan/index.ts';
import { pathSegments, runPreflight } from '../../engine/preflight/index.ts';
import { createWorld, worldForPlan, worldSpecForPlan } from '../../simulators/index.ts';

/** A minimal YAML locator for the test (the CLI uses engine/plan's). */
function locatorFor(text: string): (path: string) => { line: number; column: number } | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return (path) => {
    const node = doc.getIn(pathSegments(path), true) as { range?: [number, number, number] } | undefined;
    if (node?.range === undefined) return undefined;
    const { line, col } = lines.linePos(node.range[0]);
    return { line, column: col };
  };
}

const file = 'plans/examples/three-tier.yaml';
const text = readFileSync(file, 'utf8');
const parsed = parsePlan(text, file);
if (!parsed.ok) throw new Error(`${file} does not parse`);
const plan = parsed.plan;

describe('pre-flight of an example plan file', () => {
  const worlds: Array<{ close(): void }> = [];
  afterAll(() => {
    for (const w of worlds) w.close();
  });

  it('passes against the world made for it', async () => {
    const w = worldForPlan(plan, { warmupMs: 5 * 3_600_000 });
    worlds.push(w);
    const report = await runPreflight({ plan, api: w.api, type: 'test' });
    expect(report.blockers).toEqual([]);
    expect(report.selected).toEqual(plan.vms.map((vm) => vm.name));
  });

  it('locates a missing network at its line and column in the file', async () => {
    const withNetwork = plan.vms.findIndex((vm) => vm.network.failover !== undefined);
    expect(withNetwork).toBeGreaterThanOrEqual(0);
    const missing = plan.vms[withNetwork]?.network.failover?.network ?? '';
    const spec = worldSpecForPlan(plan);
    for (const site of spec.sites) site.networks = (site.networks ?? []).filter((n) => n.name !== missing);
    const w = createWorld(spec);
    worlds.push(w);
    w.advance(5 * 3_600_000);
    const report = await runPreflight({ plan, api: w.api, type: 'planned', locate: locatorFor(text) });
    const blocker = report.blockers.find((b) => b.code === 'NETWORK_MISSING');
    expect(blocker?.path).toBe(`spec.vms[${withNetwork}].network.failover`);
    const line = text.split('\n')[(blocker?.line ?? 0) - 1] ?? '';
    expect(line.slice((blocker?.column ?? 1) - 1)).toMatch(
      new RegExp(`^${missing}|^\\{ *network: *${missing}`),
    );
  });
});
