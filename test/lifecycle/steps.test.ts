import { describe, expect, it } from 'vitest';
import { StepGraph } from '../../engine/executor/index.ts';
import { lifecycleSteps, undoStepId } from '../../engine/executor/orchestrator/lifecycle-steps.ts';
import { subsetPlan } from '../../engine/executor/store/lifecycle.ts';
import { loadExample } from '../engine/support.ts';

const sites = { fromSite: 'dc-east', toSite: 'dc-west' };

/** Steps in the order a graph releases them when every dispatched step finishes at once. */
function waves(steps: ReturnType<typeof lifecycleSteps>): string[][] {
  const graph = new StepGraph(steps);
  const out: string[][] = [];
  let ready = graph.readySteps();
  while (ready.length > 0) {
    out.push([...ready].sort());
    const next: string[] = [];
    for (const id of ready) next.push(...graph.set(id, { status: 'done', attempt: 1 }));
    ready = next;
  }
  return out;
}

describe('lifecycle step graphs', () => {
  it('cancel runs in the failover’s reverse order: after-undos, reverts, restores in dependency order, before-undos', async () => {
    const { plan } = await loadExample('plans/examples/three-tier.yaml');
    const dns = plan.actions.find((a) => a.name === 'update-dns');
    if (!dns) throw new Error('three-tier has update-dns');
    // A `before` action with an undo, to see it undone last.
    plan.actions.push({ ...dns, name: 'freeze-batch', when: 'before', vm: 'sql-01' });
    const cut = subsetPlan(
      plan,
      plan.vms.map((v) => v.name),
      ['update-dns', 'freeze-batch'],
    );
    const steps = lifecycleSteps('cancel', cut, sites);
    const order = waves(steps).flat();
    const at = (id: string): number => order.indexOf(id);
    expect(at(undoStepId('update-dns'))).toBeLessThan(at('sql-01/revert'));
    expect(at('sql-01/revert')).toBeLessThan(at('sql-01/restore'));
    expect(at('sql-01/restore')).toBeLessThan(at('app-01/restore'));
    expect(at('app-01/restore')).toBeLessThan(at('web-01/restore'));
    expect(at('web-01/restore')).toBeLessThan(at(undoStepId('freeze-batch')));
    expect(steps.get('sql-01/revert')?.site).toBe('dc-west');
    expect(steps.get('sql-01/restore')?.site).toBe('dc-east');
    // runOn: target → the undo runs at the failover's target site.
    expect(steps.get(undoStepId('update-dns'))?.site).toBe('dc-west');
    expect(order).toHaveLength(steps.size);
  });

  it('change of point: every VM reverted and failed over again at once, booted in dependency order', async () => {
    const { plan } = await loadExample('plans/examples/three-tier.yaml');
    const steps = lifecycleSteps('change-point', subsetPlan(plan, ['sql-01', 'app-01', 'web-01']), sites);
    // Regression (issue 10): every VM was reverted at once, so a failed change left the VMs after
    // it off in both sites. Now a VM is reverted only once the VMs it depends on are ready again.
    const first = waves(steps)[0];
    expect(first).toEqual(['sql-01/revert']);
    expect(steps.get('sql-01/change-point')?.after).toEqual(['sql-01/revert']);
    expect(steps.get('app-01/revert')?.after).toEqual(['sql-01/readiness']);
    expect(steps.get('app-01/boot')?.after).toEqual(['app-01/change-point']);
    // app-02 is not part of this change: web-01 waits only for the VMs that are.
    expect(steps.get('web-01/revert')?.after).toEqual(['app-01/readiness']);
  });

  it('ordered groups become barriers; commit and reprotect are independent per VM', async () => {
    const { plan } = await loadExample('plans/examples/sharepoint-farm.yaml');
    const steps = lifecycleSteps('change-point', plan, sites);
    const groups = plan.groups.filter((g) => g.vms.length > 0);
    const second = groups[1];
    const firstVm = second?.vms[0];
    if (second === undefined || firstVm === undefined) throw new Error('the farm has ordered groups');
    expect(steps.get(`${firstVm}/revert`)?.after).toContain(`barrier/group/${groups[0]?.name}/readiness`);
    expect(waves(lifecycleSteps('commit', plan, sites))).toHaveLength(1);
    expect(waves(lifecycleSteps('reprotect', plan, sites))).toHaveLength(2);
  });
});
