/**
 * Pre-flight: what must hold before a failover or drill touches anything, checked in one read of
 * the inventory and reported as located blockers and warnings, with the placement `--dry-run`
 * shows. `evaluatePreflight` is the pure decision; `runPreflight` reads the world and decides.
 */
export { ACCEPTABLE_BLOCKERS, type AcceptableBlockerCode } from './accept.ts';
export { resolvePoint } from './checks/recovery-point.ts';
export { estimateRunRtoMs, subPlan } from './estimate.ts';
export { type EvaluateOptions, evaluatePreflight, type Locate } from './evaluate.ts';
export { type GateInput, preflightAndLock } from './gate.ts';
export { type GatherOptions, gatherInventory, type HyperVReadApi } from './gather.ts';
export {
  evaluateLifecycle,
  formatLifecycleReport,
  gatherLifecycleInventory,
  LifecycleBlockedError,
  type LifecycleCheck,
  type LifecycleInventory,
  type LifecycleOperation,
  type LifecycleReport,
  type LifecycleVmRow,
  locateLifecycleReport,
  runLifecyclePreflight,
} from './lifecycle.ts';
export { pathSegments } from './paths.ts';
export {
  type FormatOptions,
  formatFinding,
  formatPreflightReport,
  locateReport,
  PreflightBlockedError,
  preflightBlockedError,
  preflightSummaryLine,
} from './report.ts';
export { type PreflightInput, runPreflight } from './run.ts';
export { type CatalogReader, type ServedCatalogView, scriptFindings, scriptUses } from './scripts.ts';
export { type RecoveryPointSpread, recoveryPointSpread } from './spread.ts';
export {
  type ExternalDependency,
  type Selection,
  type Subset,
  selectionFromFlags,
  selectSubset,
} from './subset.ts';
export type {
  Blocker,
  BlockerCode,
  Finding,
  HostCapacity,
  Inventory,
  Placement,
  PlannedPoint,
  PointsRead,
  PreflightReport,
  PreflightWarning,
  ResourceUse,
  SiteCapacity,
  SiteDataAge,
  SiteRead,
  WarningCode,
} from './types.ts';
