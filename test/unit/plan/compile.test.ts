import { readFileSync } from 'node:fs';
import { alg } from '@dagrejs/graphlib';
import { describe, expect, it } from 'vitest';
import {
  type CompiledPlan,
  compilePlan,
  type Direction,
  type FailoverType,
  parsePlan,
  type RecoveryPlan,
} from '../../../engine/plan/index.ts';
import { planText, validPlan } from './helpers.ts';

const predecessors = (compiled: CompiledPlan, id: string) =>
  [...(compiled.steps.get(id)?.after ?? [])].sort();

describe('compilePlan', () => {
  describe('for an unplanned failover of a three-tier application', () => {
    const plan = validPlan(
      planText(
        [
          '    - { name: sql, bootEstimate: 2m }',
          '    - { name: app-1, dependsOn: [sql], bootEstimate: 1m }',
          '    - { name: app-2, dependsOn: [sql], bootEstimate: 90s }',
          '    - { name: web, dependsOn: [app-1, app-2], bootEstimate: 30s }',
        ].join('\n'),
      ),
    );
    const compiled = compilePlan(plan, { type: 'unplanned' });

    it('gives each VM fence → failover → boot → readiness, and no shutdown', () => {
      expect([...compiled.steps.keys()].filter((id) => id.startsWith('sql/')).sort()).toEqual([
        'sql/boot',
        'sql/failover',
        'sql/fence',
        'sql/readiness',
      ]);
      expect(predecessors(compiled, 'sql/failover')).toEqual(['sql/fence']);
      expect(predecessors(compiled, 'sql/boot')).toEqual(['sql/failover']);
      expect([...compiled.steps.values()].some((step) => step.kind === 'shutdown')).toBe(false);
    });

    it('fences every VM at the source at once, each before its own failover only', () => {
      for (const vm of ['sql', 'app-1', 'app-2', 'web']) {
        expect(compiled.steps.get(`${vm}/fence`)).toMatchObject({
          kind: 'fence',
          vm,
          site: 'dc-east',
          after: [],
          before: [`${vm}/failover`],
        });
      }
      expect(compiled.waves[0]).toEqual(['sql/fence', 'app-1/fence', 'app-2/fence', 'web/fence']);
    });

    it('fences nothing in a planned failover or a drill', () => {
      for (const type of ['planned', 'test'] as const) {
        const other = compilePlan(plan, { type });
        expect([...other.steps.values()].filter((step) => step.kind === 'fence')).toEqual([]);
      }
    });

    it('fences at the site failed over from, in a failback too', () => {
      const back = compilePlan(plan, { type: 'unplanned', direction: 'failback' });
      expect(back.steps.get('web/fence')?.site).toBe('dc-west');
      expect(back.steps.get('web/failover')?.site).toBe('dc-east');
    });

    it('starts a VM only when its dependencies are ready', () => {
      expect(predecessors(compiled, 'web/failover')).toEqual([
        'app-1/readiness',
        'app-2/readiness',
        'web/fence',
      ]);
    });

    it('puts the two app servers in the same waves', () => {
      expect(compiled.waves).toEqual([
        ['sql/fence', 'app-1/fence', 'app-2/fence', 'web/fence'],
        ['sql/failover'],
        ['sql/boot'],
        ['sql/readiness'],
        ['app-1/failover', 'app-2/failover'],
        ['app-1/boot', 'app-2/boot'],
        ['app-1/readiness', 'app-2/readiness'],
        ['web/failover'],
        ['web/boot'],
        ['web/readiness'],
      ]);
    });

    it('runs the critical path through the slower app server', () => {
      expect(compiled.criticalPath.steps).toEqual([
        'sql/fence',
        'sql/failover',
        'sql/boot',
        'sql/readiness',
        'app-2/failover',
        'app-2/boot',
        'app-2/readiness',
        'web/failover',
        'web/boot',
        'web/readiness',
      ]);
      // the fence (5 s), 3 failovers of 5 s + 2m + 90s + 30s
      expect(compiled.criticalPath.ms).toBe(5_000 + 15_000 + 120_000 + 90_000 + 30_000);
      expect(compiled.estimate.rtoMs).toBe(compiled.criticalPath.ms);
    });

    it('orders VMs topologically', () => {
      expect(compiled.vmOrder).toEqual(['sql', 'app-1', 'app-2', 'web']);
    });

    it('exposes the same graph through graphlib', () => {
      const graph = compiled.graph();
      expect(graph.nodeCount()).toBe(compiled.steps.size);
      expect(graph.edgeCount()).toBe(
        [...compiled.steps.values()].reduce((n, step) => n + step.before.length, 0),
      );
      expect(alg.isAcyclic(graph)).toBe(true);
      expect(graph.node('web/boot')).toBe(compiled.steps.get('web/boot'));
    });
  });

  describe('the sequential-groups estimate', () => {
    it('shows what the graph buys when a slow VM would hold back a whole ASR group', () => {
      const plan = validPlan(
        planText(
          [
            '    - { name: a, bootEstimate: 1m }',
            '    - { name: slow, bootEstimate: 5m }',
            '    - { name: c, dependsOn: [a], bootEstimate: 30s }',
          ].join('\n'),
        ),
      );
      const { estimate } = compilePlan(plan, { type: 'unplanned' });
      // The fences first (5 s), then slow alone; a → c runs beside it.
      expect(estimate.rtoMs).toBe(5_000 + 305_000);
      // The fences, then group 1 {a, slow}, then group 2 {c}.
      expect(estimate.sequentialGroupsRtoMs).toBe(5_000 + 305_000 + 35_000);
    });

    it('uses the plan’s own groups and keeps dependencies inside a group in order', () => {
      const plan = validPlan(
        planText(
          [
            '    - { name: a, bootEstimate: 1m }',
            '    - { name: b, dependsOn: [a], bootEstimate: 1m }',
            '    - { name: c, bootEstimate: 1m }',
          ].join('\n'),
          '  groups:\n    - { name: one, vms: [a, b] }\n    - { name: two, vms: [c] }',
        ),
      );
      const { estimate } = compilePlan(plan, { type: 'test' });
      expect(estimate.rtoMs).toBe(3 * 65_000);
      expect(estimate.sequentialGroupsRtoMs).toBe(3 * 65_000);
    });
  });

  describe('for a planned failover', () => {
    const plan = validPlan(
      planText(
        [
          '    - { name: db }',
          '    - { name: app, dependsOn: [db] }',
          '    - { name: web, dependsOn: [app] }',
        ].join('\n'),
        '  actions:\n    - { name: stop-jobs, before: app, manual: Stop the batch jobs }',
      ),
    );
    const compiled = compilePlan(plan, { type: 'planned' });

    it('shuts dependents down before what they depend on', () => {
      expect(predecessors(compiled, 'web/shutdown')).toEqual([]);
      expect(predecessors(compiled, 'action/stop-jobs')).toEqual(['web/shutdown']);
      expect(predecessors(compiled, 'app/shutdown')).toEqual(['action/stop-jobs']);
      expect(predecessors(compiled, 'db/shutdown')).toEqual(['app/shutdown']);
    });

    it('finishes every shutdown before any failover', () => {
      expect(predecessors(compiled, 'barrier/shutdown')).toEqual([
        'app/shutdown',
        'db/shutdown',
        'web/shutdown',
      ]);
      expect(predecessors(compiled, 'db/failover')).toEqual(['barrier/shutdown']);
      const wave = (id: string) => compiled.waves.findIndex((w) => w.includes(id));
      const lastShutdown = Math.max(...['db', 'app', 'web'].map((vm) => wave(`${vm}/shutdown`)));
      const firstFailover = Math.min(...['db', 'app', 'web'].map((vm) => wave(`${vm}/failover`)));
      expect(lastShutdown).toBeLessThan(firstFailover);
    });

    it('runs shutdowns at the source and the rest at the target', () => {
      expect(compiled.steps.get('db/shutdown')?.site).toBe('dc-east');
      expect(compiled.steps.get('db/boot')?.site).toBe('dc-west');
      expect(compiled.steps.get('barrier/shutdown')).toMatchObject({
        kind: 'barrier',
        site: 'control',
        estimateMs: 0,
      });
    });
  });

  describe('with ordered groups', () => {
    const vms = Array.from({ length: 6 }, (_, i) => `    - { name: vm-${i} }`).join('\n');
    const plan = validPlan(
      planText(
        vms,
        [
          '  groups:',
          '    - { name: first, vms: [vm-0, vm-1, vm-2] }',
          '    - { name: second, vms: [vm-3, vm-4, vm-5] }',
          '  actions:',
          '    - { name: check, after: first, manual: Check }',
          '    - { name: lb, before: second, webhook: "https://lb.example.com/switch" }',
        ].join('\n'),
      ),
    );
    const compiled = compilePlan(plan, { type: 'test' });

    it('joins group N through one barrier, so edges grow linearly', () => {
      expect(predecessors(compiled, 'barrier/group/first')).toEqual([
        'vm-0/readiness',
        'vm-1/readiness',
        'vm-2/readiness',
      ]);
      const edges = [...compiled.steps.values()].reduce((n, step) => n + step.after.length, 0);
      expect(edges).toBe(6 * 2 + 3 + 1 + 1 + 3 + 3); // pipelines, into barrier 1, check, lb, into group 2, into barrier 2
    });

    it('starts group N+1 after group N and the actions between them', () => {
      expect(predecessors(compiled, 'action/check')).toEqual(['barrier/group/first']);
      expect(predecessors(compiled, 'action/lb')).toEqual(['action/check']);
      expect(predecessors(compiled, 'vm-4/failover')).toEqual(['action/lb']);
      expect(compiled.steps.get('action/lb')).toMatchObject({ group: 'second', site: 'control' });
    });
  });

  describe('action filtering and placement', () => {
    const plan = validPlan(
      planText(
        '    - { name: a }\n    - { name: b, dependsOn: [a] }',
        [
          '  actions:',
          '    - { name: dns, after: a, script: update-dns, runOn: target, on: [planned, unplanned] }',
          '    - { name: notify, after: a, webhook: "https://hooks.example.com/x", directions: [forward] }',
        ].join('\n'),
      ),
    );

    it.each<[FailoverType, Direction, string[]]>([
      ['unplanned', 'forward', ['action/dns', 'action/notify']],
      ['test', 'forward', ['action/notify']],
      ['planned', 'failback', ['action/dns']],
      ['test', 'failback', []],
    ])('for %s %s runs %j', (type, direction, expected) => {
      const compiled = compilePlan(plan, { type, direction });
      expect([...compiled.steps.keys()].filter((id) => id.startsWith('action/'))).toEqual(expected);
    });

    it('chains actions on one VM in file order and makes dependents wait for the last', () => {
      const compiled = compilePlan(plan, { type: 'unplanned' });
      expect(predecessors(compiled, 'action/dns')).toEqual(['a/readiness']);
      expect(predecessors(compiled, 'action/notify')).toEqual(['action/dns']);
      expect(predecessors(compiled, 'b/failover')).toEqual(['action/notify', 'b/fence']);
    });

    it('runs a target script at the site failed over to, in either direction', () => {
      expect(compilePlan(plan, { type: 'unplanned' }).steps.get('action/dns')?.site).toBe('dc-west');
      const back = compilePlan(plan, { type: 'unplanned', direction: 'failback' });
      expect(back.steps.get('action/dns')?.site).toBe('dc-east');
      expect(back).toMatchObject({ source: 'dc-west', target: 'dc-east' });
      expect(back.steps.get('a/boot')?.site).toBe('dc-east');
    });
  });

  describe('for every example plan, type and direction', () => {
    const examples = ['three-tier', 'sharepoint-farm', 'estate-200'].map((name) => {
      const result = parsePlan(readFileSync(`plans/examples/${name}.yaml`, 'utf8'), name);
      if (!result.ok) throw new Error(`${name} is invalid`);
      return [name, result.plan] as [string, RecoveryPlan];
    });
    const cases = examples.flatMap(([name, plan]) =>
      (['test', 'planned', 'unplanned'] as const).flatMap((type) =>
        (['forward', 'failback'] as const).map((direction) => [name, type, direction, plan] as const),
      ),
    );

    it.each(cases)(
      '%s %s %s: waves are topological levels covering every step once',
      (_name, type, direction, plan) => {
        const compiled = compilePlan(plan, { type, direction });
        const waveOf = new Map<string, number>();
        compiled.waves.forEach((wave, i) => {
          for (const id of wave) waveOf.set(id, i);
        });
        expect(waveOf.size).toBe(compiled.steps.size);
        for (const step of compiled.steps.values()) {
          for (const pred of step.after) expect(waveOf.get(pred)!).toBeLessThan(waveOf.get(step.id)!);
          expect(step.id).not.toContain(':');
        }
        expect(compiled.vmOrder).toHaveLength(plan.vms.length);
        expect(compiled.estimate.rtoMs).toBeLessThanOrEqual(compiled.estimate.sequentialGroupsRtoMs);
      },
    );
  });
});
