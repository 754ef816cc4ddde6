/** State machines (pure, clock passed in with events): the public door of engine/machines. */
export {
  type ExecutionContext,
  type ExecutionMachineEvent,
  executionMachine,
} from './execution-machine.ts';
export {
  applyExecutionEvent,
  EXECUTION_SNAPSHOT_VERSION,
  type ExecutionSnapshot,
  executionStatus,
  initialExecutionSnapshot,
  isExecutionSettled,
  PAST_POINT_OF_NO_RETURN,
  persistExecution,
  restoreExecution,
} from './execution-snapshot.ts';
export {
  initialSiteMonitor,
  leaseEndsAt,
  nextSiteMonitorDeadline,
  type SiteMonitorConfig,
  type SiteMonitorEvent,
  type SiteMonitorSnapshot,
  type SiteMonitorState,
  siteMonitorConfigIssues,
  stepSiteMonitor,
  type WitnessVerdict,
} from './site-monitor.ts';
export { type VmContext, type VmEvent, type VmMode, vmGuards, vmMachine, vmUpdates } from './vm-machine.ts';
export {
  applyVmEvent,
  initialVmSnapshot,
  persistVm,
  restoreVm,
  VM_SNAPSHOT_VERSION,
  type VmSnapshot,
  vmPhase,
  vmStateName,
} from './vm-snapshot.ts';
export { nextVmState, type VmState, vmTags } from './vm-table.ts';
export { type VmWhere, type VmWhereContext, vmWhere } from './vm-where.ts';
