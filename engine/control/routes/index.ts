/** Every route group of `/api/v1`, in the order they are mounted. Each area adds its own line. */
import type { ControlRoutes } from '../context.ts';
import { inventoryRoutes } from '../inventory/index.ts';
import { registerHistoryRoutes } from './history.ts';

export const controlRoutes: readonly ControlRoutes[] = [inventoryRoutes(), registerHistoryRoutes];
