/**
 * The lifecycle pre-flight's decision (engine/preflight lifecycle.ts), pure: hand-written
 * inventories of both sites, one finding per case. The integration tests with the simulated world
 * are in test/lifecycle/preflight.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  evaluateLifecycle,
  type LifecycleCheck,
  type LifecycleInventory,
} from '../../engine/preflight/index.ts';
import type { VmView } from '../../simulators/api.ts';
import { codes, host, latestPoint, makePlan, NOW, replica } from './fixtures.ts';

const plan = makePlan([{ name: 'db' }, { name: 'app', dependsOn: ['db'] }]);

function check(operation: LifecycleCheck['operation'], over: Partial<LifecycleCheck> = {}): LifecycleCheck {
  return {
    operation,
    execution: 'fo-1',
    failoverType: 'planned',
    failoverEpoch: 5,
    plan,
    fromSite: 'dc-east',
    toSite: 'dc-west',
    vms: ['db', 'app'],
    ...over,
  };
}

/** Failed over at dc-west (running), and the old primary at dc-east (off, prepared). */
function failedOver(name: string, over: Partial<VmView> = {}): VmView {
  return replica(
    name,
    { state: 'Running', heartbeat: 'Ok', epoch: 5, ...over },
    { state: 'FailedOverWaitingCompletion' },
  );
}

function primary(name: string, over: Partial<VmView> = {}): VmView {
  return {
    ...replica(name, { site: 'dc-east', host: 'e1', epoch: 5, ...over }),
    replication: {
      mode: 'Primary',
      state: 'PreparedForFailover',
      health: 'Normal',
      primarySite: 'dc-east',
      replicaSite: 'dc-west',
      frequencySec: 300,
      resyncRequired: false,
    },
  };
}

function inventory(
  to: VmView[],
  from: VmView[] | 'unreachable',
  options: { eastHost?: Parameters<typeof host>[1] } = {},
): LifecycleInventory {
  return {
    now: NOW,
    to: { ok: true, site: 'dc-west', vms: to, hosts: [host('w1')], networks: [] },
    from:
      from === 'unreachable'
        ? { ok: false, site: 'dc-east', error: { code: 'SITE_UNREACHABLE', message: 'dc-east is down' } }
        : {
            ok: true,
            site: 'dc-east',
            vms: from,
            hosts: [host('e1', { site: 'dc-east', ...options.eastHost })],
            networks: [],
          },
    recoveryPoints: new Map(to.map((v) => [v.name, { ok: true, points: [latestPoint(v.name)] }])),
    apiCalls: 0,
  };
}

describe('lifecycle pre-flight, decided from one read', () => {
  it('change-point: a committed VM is past the point of no return, the other has its point', () => {
    const report = evaluateLifecycle(
      check('change-point', { recoveryPoint: { kind: 'latest' } }),
      inventory(
        [replica('db', { state: 'Running' }, { state: 'FailedOver' }), failedOver('app')],
        [primary('db'), primary('app')],
      ),
    );
    expect(codes(report.blockers)).toEqual(['PAST_POINT_OF_NO_RETURN:db']);
    expect(report.rows.map((r) => [r.vm, r.recoveryPoint?.id])).toEqual([['app', 'dc-west.app.latest']]);
  });

  it('cancel: no room on the primary host blocks; a primary a later execution acted on blocks', () => {
    const full = evaluateLifecycle(
      check('cancel'),
      inventory([failedOver('db'), failedOver('app')], [primary('db'), primary('app')], {
        eastHost: { vmSlots: 1 },
      }),
    );
    expect(codes(full.blockers)).toEqual(['INSUFFICIENT_CAPACITY:db', 'INSUFFICIENT_CAPACITY:app']);
    const later = evaluateLifecycle(
      check('cancel'),
      inventory([failedOver('db'), failedOver('app')], [primary('db', { epoch: 9 }), primary('app')]),
    );
    expect(codes(later.blockers)).toEqual(['ONLY_RUNNING_COPY:db']);
    expect(later.blockers[0]?.message).toContain('a later execution (epoch 9');
  });

  it('cancel with the source lost: a replica that does not run either is only a warning', () => {
    const report = evaluateLifecycle(
      check('cancel', { failoverType: 'unplanned' }),
      inventory(
        [failedOver('db'), failedOver('app', { state: 'Off', heartbeat: 'NoContact' })],
        'unreachable',
      ),
    );
    expect(codes(report.blockers)).toEqual(['ONLY_RUNNING_COPY:db']);
    expect(codes(report.warnings)).toEqual(['PRIMARY_NOT_RESTARTABLE:app']);
  });

  it('reprotect: an old primary that runs cannot be reversed onto; a planned failover resyncs nothing', () => {
    const report = evaluateLifecycle(
      check('reprotect'),
      inventory([failedOver('db'), failedOver('app')], [primary('db', { state: 'Running' }), primary('app')]),
    );
    expect(codes(report.blockers)).toEqual(['NOT_REVERSIBLE:db']);
    expect(report.blockers[0]?.path).toBe('spec.vms[0]');
    expect(report.rows.map((r) => [r.vm, r.resyncBytes])).toEqual([['app', 0]]);
  });

  it('commit --partial: a VM that is not up is left out and named, not a blocker', () => {
    const to = [failedOver('db'), failedOver('app', { state: 'Off', heartbeat: 'NoContact' })];
    const strict = evaluateLifecycle(check('commit'), inventory(to, [primary('db'), primary('app')]));
    expect(codes(strict.blockers)).toEqual(['VM_NOT_UP:app']);
    const partial = evaluateLifecycle(
      check('commit', { partial: true }),
      inventory(to, [primary('db'), primary('app')]),
    );
    expect(partial.ok).toBe(true);
    expect(partial.vms).toEqual(['db']);
    expect(partial.leftOut.map((l) => l.vm)).toEqual(['app']);
  });

  it('the target site unreadable blocks every operation, located at the site', () => {
    const down: LifecycleInventory = {
      ...inventory([], []),
      to: { ok: false, site: 'dc-west', error: { code: 'SITE_UNREACHABLE', message: 'gone' } },
    };
    for (const op of ['commit', 'change-point', 'cancel', 'reprotect'] as const) {
      const report = evaluateLifecycle(check(op), down);
      expect(report.blockers.map((b) => [b.code, b.path])).toEqual([['TARGET_UNREACHABLE', 'spec.target']]);
    }
  });
});
