import { describe, expect, it } from 'vitest';
import { compilePlan, renderGraph } from '../../../engine/plan/index.ts';
import { planText, validPlan } from './helpers.ts';

describe('renderGraph', () => {
  const plan = validPlan(
    planText(
      '    - { name: db, bootEstimate: 2m }\n    - { name: web, dependsOn: [db] }',
      '  groups:\n    - { name: data, vms: [db] }\n  actions:\n    - { name: say-hi, after: web, manual: Say hello }',
    ),
  );
  const compiled = compilePlan(plan, { type: 'planned' });

  describe('as mermaid', () => {
    const text = renderGraph(compiled, 'mermaid');

    it('draws every step and edge with plain node ids', () => {
      expect(text.startsWith('flowchart LR\n')).toBe(true);
      const nodes = text.split('\n').filter((line) => /^ {2}s\d+[[(]/.test(line));
      const edges = text.split('\n').filter((line) => line.includes(' --> '));
      expect(nodes).toHaveLength(compiled.steps.size);
      expect(edges).toHaveLength([...compiled.steps.values()].reduce((n, step) => n + step.before.length, 0));
    });

    it('labels steps with their estimate and marks the critical path', () => {
      expect(text).toContain('["db boot 2m"]:::critical');
      expect(text).toContain('(("shutdown"))');
      expect(text).toContain('classDef critical');
    });
  });

  describe('as dot', () => {
    const text = renderGraph(compiled, 'dot');

    it('quotes step ids and draws barriers as circles', () => {
      expect(text).toContain('"db/shutdown" -> "barrier/group/data/shutdown";');
      expect(text).toContain('"barrier/shutdown" [label="shutdown", shape=circle');
      expect(text.trimEnd().endsWith('}')).toBe(true);
    });
  });

  describe('of an unplanned failover', () => {
    const unplanned = compilePlan(plan, { type: 'unplanned' });

    it("draws each VM's fence at the source before its failover", () => {
      const dot = renderGraph(unplanned, 'dot');
      expect(dot).toContain('"db/fence" [label="db fence 5s", shape=box');
      expect(dot).toContain('"db/fence" -> "db/failover";');
      expect(dot).toContain('"web/fence" -> "web/failover";');
      expect(renderGraph(unplanned, 'mermaid')).toContain('["web fence 5s"]');
    });
  });
});
