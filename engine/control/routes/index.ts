/** Every route group of `/api/v1`, in the order they are mounted. Each area adds its own line. */
import { registerAgentRoutes } from '../agents/index.ts';
import type { ControlRoutes } from '../context.ts';

export const controlRoutes: readonly ControlRoutes[] = [registerAgentRoutes];
