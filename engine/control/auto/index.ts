/** Automatic failover, the control side (issue 13): see ARCHITECTURE.md beside this file. */
export type { ArmingStore, DecisionRecord, Maintenance } from './arming.ts';
export {
  type Automation,
  type AutomationOptions,
  createAutomation,
  type PlanOutcome,
  type SiteLoss,
} from './automation.ts';
export { type ArmRecord, type Decision, type DecisionInput, decideAutoFailover } from './decide.ts';
export { assertDurable, type Durability, durabilityOf } from './durability.ts';
export { autoKeys } from './keys.ts';
export { registerAutoRoutes } from './routes.ts';
export { type AutoPlanStatus, type AutoStatus, autoStatus } from './status.ts';
