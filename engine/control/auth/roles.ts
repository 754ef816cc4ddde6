/**
 * Who may do what: the four roles and the permissions each grants. Pure. A permission is
 * `<area>:<verb>`; what a drill may do is its own area (`drill:*`), so a drill operator can run,
 * approve and clean up drills and nothing that moves production.
 */

export const ROLES = ['viewer', 'drill-operator', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'read',
  'drill:submit',
  'drill:cleanup',
  'drill:approve',
  'drill:step',
  'failover:submit',
  'failover:commit',
  'failover:change-point',
  'failover:cancel',
  'failover:reprotect',
  'failover:failback',
  'failover:approve',
  'failover:step',
  'plan:write',
  'protect:submit',
  'lock:release',
  'site:manage',
  'agent:manage',
  'automatic-failover:manage',
  'token:manage',
  'audit:read',
  'notify:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const VIEWER: readonly Permission[] = ['read'];
const DRILL: readonly Permission[] = [
  ...VIEWER,
  'drill:submit',
  'drill:cleanup',
  'drill:approve',
  'drill:step',
];
const OPERATOR: readonly Permission[] = [
  ...DRILL,
  'failover:submit',
  'failover:commit',
  'failover:change-point',
  'failover:cancel',
  'failover:reprotect',
  'failover:failback',
  'failover:approve',
  'failover:step',
];

/** Each role's permissions; each role has those of the one before it. */
export const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(VIEWER),
  'drill-operator': new Set(DRILL),
  operator: new Set(OPERATOR),
  admin: new Set(PERMISSIONS),
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function grants(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/** A token's scopes: empty lists mean every plan / every site. */
export interface Scopes {
  plans: string[];
  sites: string[];
}

/** What a call acts on, as far as scopes go: a plan and the sites it touches, or nothing named. */
export interface Resource {
  plan?: string;
  sites?: readonly string[];
}

/**
 * Why `scopes` do not reach `resource`, or undefined when they do. A scoped token acts only on a
 * plan it names and on plans whose every site it names; a call on nothing named (tokens, the audit
 * log, every lock) needs an unscoped token.
 */
export function outOfScope(scopes: Scopes, resource: Resource): string | undefined {
  const scoped = scopes.plans.length > 0 || scopes.sites.length > 0;
  if (!scoped) return undefined;
  if (resource.plan === undefined && resource.sites === undefined) {
    return 'it names no plan or site and the token is scoped (use an unscoped token)';
  }
  if (scopes.plans.length > 0 && (resource.plan === undefined || !scopes.plans.includes(resource.plan))) {
    return `the token's plans are ${scopes.plans.join(', ')}`;
  }
  if (scopes.sites.length > 0) {
    const outside = (resource.sites ?? []).filter((site) => !scopes.sites.includes(site));
    if (outside.length > 0 || resource.sites === undefined) {
      return `the token's sites are ${scopes.sites.join(', ')}${outside.length > 0 ? ` and the call touches ${outside.join(', ')}` : ''}`;
    }
  }
  return undefined;
}

/** `failover:submit on plan erp (sites dc-east, dc-west)`: what a refusal names. */
export function describeNeed(permission: Permission, resource: Resource): string {
  const on = resource.plan === undefined ? '' : ` on plan ${resource.plan}`;
  const sites =
    resource.sites === undefined || resource.sites.length === 0
      ? ''
      : ` (sites ${resource.sites.join(', ')})`;
  return `${permission}${on}${sites}`;
}
