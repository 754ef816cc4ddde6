/**
 * The hosts' guards, the control side (issue 13): which VMs of a site the guards must hold (every
 * plan armed for automatic failover whose source is the site, unless the site is in maintenance),
 * the agent's last report of them (stored from its contact), and whether the guard is known to work
 * for a plan (pure). A lost site whose guard is not known to work is never failed over
 * automatically (decide.ts): its agent may have died first, and nothing would have fenced it.
 */
import type { Redis } from 'ioredis';
import type { GuardHealth } from '../../contract/index.ts';
import { createPlanReader } from '../plans/store.ts';
import type { ArmingStore } from './arming.ts';
import { autoKeys } from './keys.ts';

/** The agent's last guard report for its site, as the contact route stored it. */
export interface GuardReport {
  site: string;
  /** Control-plane wall time the report was taken. */
  at: string;
  /** What the control plane told the agent to arm with (the answer to this contact). */
  armedVms: string[];
  /** null: the agent keeps no guard (an agent without one, or its guard is off). */
  hosts: GuardHealth[] | null;
}

export type GuardVerdict = { working: true } | { working: false; why: string };

/** The VMs of `site` under an armed automatic failover (maintenance disarms them). */
export async function armedVmsOf(
  redis: Redis,
  prefix: string,
  store: ArmingStore,
  site: string,
  readPlan = createPlanReader(redis, prefix),
): Promise<string[]> {
  if ((await store.maintenance(site)) !== undefined) return [];
  const vms = new Set<string>();
  for (const arm of (await store.arms()).values()) {
    if (arm.site !== site) continue;
    const plan = await readPlan(arm.plan, arm.hash).catch(() => undefined);
    for (const vm of plan?.vms ?? []) vms.add(vm.name);
  }
  return [...vms].sort();
}

export async function putGuardReport(redis: Redis, prefix: string, report: GuardReport): Promise<void> {
  await redis.hset(autoKeys(prefix).guards, report.site, JSON.stringify(report));
}

export async function guardReport(
  redis: Redis,
  prefix: string,
  site: string,
): Promise<GuardReport | undefined> {
  const raw = await redis.hget(autoKeys(prefix).guards, site);
  return raw === null ? undefined : (JSON.parse(raw) as GuardReport);
}

/**
 * Was the guard known to work for `vms` when the site was last heard from? Every VM must be held
 * by a host's guard that is armed and reported no error, in a report no older than `staleMs`
 * before the site's last renewal (`lastRenewalAt`, control-plane wall ms).
 */
export function guardVerdict(
  report: GuardReport | undefined,
  vms: readonly string[],
  lastRenewalAt: number,
  staleMs: number,
): GuardVerdict {
  if (report === undefined) return { working: false, why: 'the site agent never reported a host guard' };
  if (report.hosts === null)
    return { working: false, why: `the site agent reported no host guard (at ${report.at})` };
  const age = lastRenewalAt - Date.parse(report.at);
  if (age > staleMs)
    return {
      working: false,
      why: `the last guard report (${report.at}) is ${Math.round(age / 1000)} s older than the site's last renewal`,
    };
  const failing = report.hosts.filter((h) => h.lastError !== undefined);
  const held = new Set(
    report.hosts.filter((h) => h.armed && h.lastError === undefined).flatMap((h) => h.vms),
  );
  const missing = vms.filter((vm) => !held.has(vm));
  if (missing.length === 0) return { working: true };
  const errors = failing.map((h) => `${h.host}: ${h.lastError}`).join('; ');
  return {
    working: false,
    why: `no armed, renewed guard holds ${missing.join(', ')}${errors ? ` (failing: ${errors})` : ''}`,
  };
}
