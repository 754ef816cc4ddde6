/**
 * Where a VM runs, from its recorded machine state (engine/machines vm-where.ts): the family of
 * issue 10's "showed waiting while it ran nowhere".
 */
import { describe, expect, it } from 'vitest';
import type { VmMode } from '../../engine/machines/index.ts';
import { applyVmEvent, initialVmSnapshot, type VmEvent, vmWhere } from '../../engine/machines/index.ts';

const sites = { fromSite: 'dc-east', toSite: 'dc-west' };

function machineAfter(mode: VmMode, events: VmEvent[]) {
  let snapshot = initialVmSnapshot('vm-1', mode);
  for (const event of events) snapshot = applyVmEvent(snapshot, event).snapshot;
  return snapshot;
}

describe('where a VM runs', () => {
  it('planned: at the source, nowhere once shut down, starting then running at the target', () => {
    expect(vmWhere(machineAfter('planned', []), sites).text).toBe('runs at dc-east');
    const off = machineAfter('planned', [
      { type: 'STARTED', kind: 'shutdown' },
      { type: 'DONE', kind: 'shutdown' },
    ]);
    expect(vmWhere(off, sites)).toEqual({
      state: 'nowhere',
      text: 'RUNS NOWHERE: off at dc-east, not yet started at dc-west',
    });
    const booting = machineAfter('planned', [
      { type: 'DONE', kind: 'shutdown' },
      { type: 'DONE', kind: 'failover' },
      { type: 'STARTED', kind: 'boot' },
    ]);
    expect(vmWhere(booting, sites)).toEqual({
      state: 'starting',
      site: 'dc-west',
      text: 'starting at dc-west',
    });
  });

  it('a failed boot leaves the VM running nowhere, a failed readiness running at the target', () => {
    const base: VmEvent[] = [
      { type: 'DONE', kind: 'shutdown' },
      { type: 'DONE', kind: 'failover' },
    ];
    const boot = machineAfter('planned', [
      ...base,
      { type: 'FAILED', step: 'vm-1/boot', code: 'X', message: 'x' },
    ]);
    expect(vmWhere(boot, sites).state).toBe('nowhere');
    const ready = machineAfter('planned', [
      ...base,
      { type: 'DONE', kind: 'boot' },
      { type: 'FAILED', step: 'vm-1/readiness', code: 'X', message: 'x' },
    ]);
    expect(vmWhere(ready, sites)).toMatchObject({ state: 'runs', site: 'dc-west' });
  });

  it('unplanned: nowhere only once the source fenced it; otherwise it may still run there', () => {
    const failedOver = machineAfter('unplanned', [{ type: 'DONE', kind: 'failover' }]);
    expect(vmWhere(failedOver, { ...sites, fence: 'done' }).state).toBe('nowhere');
    expect(vmWhere(failedOver, { ...sites, fence: 'warned' })).toMatchObject({ state: 'unknown' });
    expect(vmWhere(machineAfter('unplanned', []), { ...sites, fence: 'done' }).state).toBe('nowhere');
  });

  it('a drill never moves production; a cancel is nowhere between reverting the replica and restarting the primary', () => {
    const drill = machineAfter('test', [
      { type: 'DONE', kind: 'failover' },
      { type: 'DONE', kind: 'boot' },
    ]);
    expect(vmWhere(drill, sites)).toMatchObject({ state: 'runs', site: 'dc-east' });
    expect(vmWhere(drill, sites).text).toContain('test copy');
    const revert: VmEvent[] = [
      { type: 'STARTED', kind: 'failover' },
      { type: 'DONE', kind: 'failover' },
    ];
    const reverted = machineAfter('cancel', revert);
    expect(vmWhere(reverted, sites).state).toBe('nowhere');
    expect(vmWhere(machineAfter('cancel', [...revert, { type: 'DONE', kind: 'boot' }]), sites)).toMatchObject(
      {
        state: 'runs',
        site: 'dc-east',
      },
    );
  });
});
