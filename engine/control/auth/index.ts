export { AGENT_ROUTE_PREFIX, actorOf, isAgentRoute, type RequestAuth, registerAuth } from './hook.ts';
export {
  describeNeed,
  GRANTS,
  grants,
  isRole,
  outOfScope,
  PERMISSIONS,
  type Permission,
  type Resource,
  ROLES,
  type Role,
  type Scopes,
} from './roles.ts';
export { type Need, READ_ONLY_METHODS, ROUTE_RULES, type RouteRule } from './route-rules.ts';
export { registerPeopleRoutes, TokenRecordSchema } from './routes.ts';
export { createTokenStreams, type TokenStreams, tokenEventsChannel } from './streams.ts';
export {
  type CreateTokenOptions,
  checkToken,
  createFirstAdminToken,
  createToken,
  DEFAULT_TOKEN_LIFETIME_MS,
  listTokens,
  revokeToken,
  type TokenCheck,
  type TokenRecord,
} from './tokens.ts';
export { type ListScope, listScopeOf, visible } from './visible.ts';
