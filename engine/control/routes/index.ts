/** Every route group of `/api/v1`, in the order they are mounted. Each area adds its own line. */
import type { ControlRoutes } from '../context.ts';
import { registerExecutionRoutes } from './executions.ts';
import { registerPlanRoutes } from './plans.ts';

export const controlRoutes: readonly ControlRoutes[] = [registerPlanRoutes, registerExecutionRoutes];
