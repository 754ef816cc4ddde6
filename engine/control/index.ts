export { type AgentHub, type AgentHubOptions, agentHubOf } from './agents/index.ts';
export { buildControlApp, type ControlAppOptions } from './app.ts';
export {
  API_PREFIX,
  CONTROL_VERSION,
  type ControlApp,
  type ControlContext,
  type ControlRoutes,
} from './context.ts';
export { type ControlMetrics, createControlMetrics } from './metrics.ts';
export {
  errorProblem,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ProblemSchema,
  problemOf,
  sendProblem,
  statusOf,
} from './problem.ts';
export { controlRoutes } from './routes/index.ts';
export { type ControlPlane, type ControlPlaneOptions, startControlPlane } from './serve.ts';
