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
export {
  CSRF_HEADER,
  checkSession,
  createSession,
  deleteSession,
  SESSION_COOKIE,
  SESSION_LIFETIME_MS,
  type Session,
  type SessionCheck,
} from './session.ts';
export { registerSessionRoutes, SessionSchema } from './session-routes.ts';
export { createTokenStreams, type TokenStreams, tokenEventsChannel } from './streams.ts';
export {
  type CreateTokenOptions,
  checkToken,
  checkTokenId,
  createFirstAdminToken,
  createToken,
  DEFAULT_TOKEN_LIFETIME_MS,
  listTokens,
  revokeToken,
  type TokenCheck,
  type TokenRecord,
} from './tokens.ts';
export { type ListScope, listScopeOf, visible, visibleEntries } from './visible.ts';
