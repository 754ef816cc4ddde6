/** Every route group of `/api/v1`, in the order they are mounted. Each area adds its own line. */
import { registerAgentRoutes } from '../agents/index.ts';
import { registerPeopleRoutes, registerSessionRoutes } from '../auth/index.ts';
import type { ControlRoutes } from '../context.ts';
import { inventoryRoutes } from '../inventory/index.ts';
import { registerNotificationRoutes } from '../notify/index.ts';
import { registerExecutionVmsRoutes } from './execution-vms.ts';
import { registerExecutionRoutes } from './executions.ts';
import { registerHistoryRoutes } from './history.ts';
import { registerLifecycleRoutes } from './lifecycle.ts';
import { registerLifecycleFollowRoutes } from './lifecycle-follow.ts';
import { registerLocksRoutes } from './locks.ts';
import { registerOperatorRoutes } from './operator.ts';
import { registerPlanGraphRoutes } from './plan-graph.ts';
import { registerPlanRoutes } from './plans.ts';
import { registerProtectRoutes } from './protect.ts';
import { registerReportRoutes } from './reports.ts';
import { registerStreamRoutes } from './stream.ts';

export const controlRoutes: readonly ControlRoutes[] = [
  registerPlanRoutes,
  registerPlanGraphRoutes,
  registerExecutionRoutes,
  registerExecutionVmsRoutes,
  registerLifecycleRoutes,
  registerLifecycleFollowRoutes,
  registerOperatorRoutes,
  registerLocksRoutes,
  registerProtectRoutes,
  inventoryRoutes(),
  registerHistoryRoutes,
  registerAgentRoutes,
  registerReportRoutes,
  registerStreamRoutes,
  registerNotificationRoutes,
  registerPeopleRoutes,
  registerSessionRoutes,
];
