import { describe, expect, it } from 'vitest';
import { InputError } from '../../engine/common/index.ts';
import { pathSegments, selectionFromFlags, selectSubset } from '../../engine/preflight/index.ts';
import { makePlan } from './fixtures.ts';

const plan = makePlan(
  [
    { name: 'dc-01', group: 0 },
    { name: 'sql-01', group: 1, dependsOn: ['dc-01'] },
    { name: 'app-01', group: 2, dependsOn: ['sql-01'] },
    { name: 'web-01', group: 2, dependsOn: ['app-01'] },
  ],
  {
    groups: [
      { name: 'infra', vms: ['dc-01'] },
      { name: 'data', vms: ['sql-01'] },
      { name: 'front', vms: ['app-01', 'web-01'] },
    ],
  },
);

describe('selectSubset', () => {
  it('selects the whole plan by default', () => {
    expect(selectSubset(plan)).toEqual({
      vms: ['dc-01', 'sql-01', 'app-01', 'web-01'],
      all: true,
      external: [],
    });
  });

  it('selects a group by its 1-based number or its name, with the previous group as external dependency', () => {
    const byNumber = selectSubset(plan, { group: 3 });
    expect(byNumber.vms).toEqual(['app-01', 'web-01']);
    expect(byNumber.external).toEqual([
      { vm: 'app-01', dependency: 'sql-01', via: 'dependsOn' },
      { vm: 'web-01', dependency: 'sql-01', via: 'group' },
    ]);
    expect(selectSubset(plan, { group: 'front' })).toEqual(byNumber);
  });

  it('names ordered-group dependencies that dependsOn does not', () => {
    const p = makePlan(
      [
        { name: 'a', group: 0 },
        { name: 'b', group: 1 },
      ],
      {
        groups: [
          { name: 'g1', vms: ['a'] },
          { name: 'g2', vms: ['b'] },
        ],
      },
    );
    expect(selectSubset(p, { vms: ['b'] }).external).toEqual([{ vm: 'b', dependency: 'a', via: 'group' }]);
  });

  it('takes the union of --vms and --group, in plan order', () => {
    expect(selectSubset(plan, { vms: ['web-01'], group: 1 }).vms).toEqual(['dc-01', 'web-01']);
  });

  it('refuses unknown VMs and groups as bad input, never silently shrinking the failover', () => {
    expect(() => selectSubset(plan, { vms: ['sql-1'] })).toThrow(InputError);
    expect(() => selectSubset(plan, { vms: ['sql-1'] })).toThrow(/sql-1/);
    expect(() => selectSubset(plan, { group: 4 })).toThrow(/groups 1=infra, 2=data, 3=front/);
    expect(() => selectSubset(plan, { group: 0 })).toThrow(InputError);
    expect(() => selectSubset(plan, { vms: [] })).toThrow(/no VM/);
  });
});

describe('selectionFromFlags', () => {
  it('reads --vms as a comma list and --group as a number or a name', () => {
    expect(selectionFromFlags({ vms: 'sql-01, app-01' })).toEqual({ vms: ['sql-01', 'app-01'] });
    expect(selectionFromFlags({ group: '2' })).toEqual({ group: 2 });
    expect(selectionFromFlags({ group: 'front' })).toEqual({ group: 'front' });
    expect(selectionFromFlags({})).toEqual({});
    expect(() => selectionFromFlags({ vms: ' , ' })).toThrow(InputError);
  });
});

describe('pathSegments', () => {
  it('splits a finding path into the segments a YAML locator takes', () => {
    expect(pathSegments('spec.vms[12].network.test')).toEqual(['spec', 'vms', 12, 'network', 'test']);
    expect(pathSegments('spec.groups[0]')).toEqual(['spec', 'groups', 0]);
  });
});
