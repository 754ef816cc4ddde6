/** Every route group of `/api/v1`, in the order they are mounted. Each area adds its own line. */
import type { ControlRoutes } from '../context.ts';
import { registerLifecycleRoutes } from './lifecycle.ts';
import { registerLifecycleFollowRoutes } from './lifecycle-follow.ts';
import { registerLocksRoutes } from './locks.ts';
import { registerOperatorRoutes } from './operator.ts';

export const controlRoutes: readonly ControlRoutes[] = [
  registerLifecycleRoutes,
  registerLifecycleFollowRoutes,
  registerOperatorRoutes,
  registerLocksRoutes,
];
