import { formatDuration } from '../common/index.ts';
import { type RawIssue, warning } from './raw-issue.ts';
import type { RecoveryPlan } from './types.ts';

/**
 * Things that are allowed but probably not meant, checked on the normalized plan (defaults
 * applied), so they are judged by what would actually run. The plan stays valid.
 */
export function planWarnings(plan: RecoveryPlan): RawIssue[] {
  const out: RawIssue[] = [];
  plan.vms.forEach((vm, i) => {
    if (vm.readiness.timeoutMs < vm.bootEstimateMs) {
      out.push(
        warning(
          'readiness-before-boot',
          `readiness of "${vm.name}" times out after ${formatDuration(vm.readiness.timeoutMs)}, before its expected boot time of ${formatDuration(vm.bootEstimateMs)}`,
          ['spec', 'vms', i, 'readiness'],
          'raise readiness.timeout above bootEstimate',
        ),
      );
    }
  });
  const auto = plan.automaticFailover;
  // The plan alone does not fail over by itself: an admin arms it on the control plane (engine/
  // control/auto), and a plan read as protecting itself while unarmed would mislead.
  if (auto.enabled) {
    out.push(
      warning(
        'auto-failover-not-armed',
        'automaticFailover takes effect only once an admin arms the plan on the control plane: until `drctl auto arm` it never fails over by itself',
        ['spec', 'automaticFailover'],
        'arm it with `drctl auto arm <plan>` (and drill it with `drctl auto drill <plan>`); unarmed, fail over by hand (`drctl failover <plan> --unplanned`)',
      ),
    );
  }
  if (auto.enabled && auto.mode === 'failover' && auto.maxDataLossMs === undefined) {
    out.push(
      warning(
        'auto-failover-unbounded-loss',
        'automatic failover has no bound on data loss (neither automaticFailover.maxDataLoss nor targets.rpo): it would notify and wait for a person every time',
        ['spec', 'automaticFailover'],
        'set automaticFailover.maxDataLoss (or targets.rpo) to the largest data-loss window it may accept by itself',
      ),
    );
  }
  if (auto.enabled && plan.actions.some((a) => a.run.type === 'manual' && a.on.includes('unplanned'))) {
    const index = plan.actions.findIndex((a) => a.run.type === 'manual' && a.on.includes('unplanned'));
    out.push(
      warning(
        'auto-failover-manual-step',
        `automatic failover would pause at manual action "${plan.actions[index]?.name}" until an operator resumes it`,
        ['spec', 'actions', index, 'manual'],
        'limit the manual step to `on: [test, planned]` if the run should not wait for a person',
      ),
    );
  }
  return out;
}
