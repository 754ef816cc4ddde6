/**
 * `drctl auto status`: each plan's policy, arming, maintenance, last decision, and after a failover
 * whose site came back: the divergences the agents' fence sweeps reported (old primaries found
 * running) and the reprotect that is offered, never started by itself.
 */
import type { Redis } from 'ioredis';
import { readEvents } from '../../executor/index.ts';
import { createPlanReader, listPlans } from '../plans/store.ts';
import type { ArmingStore, DecisionRecord, Maintenance } from './arming.ts';
import type { ArmRecord } from './decide.ts';
import { type Durability, durabilityOf } from './durability.ts';

export interface AutoPlanStatus {
  plan: string;
  source: string;
  enabled: boolean;
  mode: 'failover' | 'notify-only';
  afterMs: number;
  vetoMs: number;
  maxDataLossMs?: number;
  armed: boolean;
  arm?: ArmRecord;
  decision?: DecisionRecord;
  drill?: DecisionRecord;
  /** The last automatic failover (a later decision, e.g. refused as spent, does not replace it). */
  failover?: DecisionRecord;
  /** After an automatic failover whose site returned: run it when ready (a person decides). */
  reprotectOffered?: string;
  divergences: { vm: string; site: string; ranMs: number; fenced: boolean }[];
}

export interface AutoStatus {
  plans: AutoPlanStatus[];
  maintenance: Maintenance[];
  durability: Durability;
}

export async function autoStatus(redis: Redis, prefix: string, store: ArmingStore): Promise<AutoStatus> {
  const readPlan = createPlanReader(redis, prefix);
  const [arms, decisions, maintenance, durability, plans] = await Promise.all([
    store.arms(),
    store.decisions(),
    store.maintenances(),
    durabilityOf(redis),
    listPlans(redis, prefix),
  ]);
  const out: AutoPlanStatus[] = [];
  for (const { name, latest } of plans) {
    const plan = await readPlan(name, latest.hash).catch(() => undefined);
    if (plan === undefined) continue;
    const policy = plan.automaticFailover;
    const arm = arms.get(name);
    const decision = decisions.get(name);
    const drill = decisions.get(`${name}#drill`);
    const failover = decisions.get(`${name}#failover`);
    const divergences: AutoPlanStatus['divergences'] = [];
    if (failover?.execution !== undefined && failover.returned !== undefined) {
      for (const { event } of await readEvents(redis, prefix, failover.execution).catch(() => [])) {
        if (event.type === 'diverged')
          divergences.push({ vm: event.vm, site: event.site, ranMs: event.ranMs, fenced: event.fenced });
      }
    }
    out.push({
      plan: name,
      source: plan.source,
      enabled: policy.enabled,
      mode: policy.mode,
      afterMs: policy.afterMs,
      vetoMs: policy.vetoMs,
      ...(policy.maxDataLossMs === undefined ? {} : { maxDataLossMs: policy.maxDataLossMs }),
      armed: arm !== undefined && arm.spent === undefined && arm.hash === latest.hash,
      ...(arm === undefined ? {} : { arm }),
      ...(decision === undefined ? {} : { decision }),
      ...(drill === undefined ? {} : { drill }),
      ...(failover === undefined ? {} : { failover }),
      ...(failover?.returned === undefined ? {} : { reprotectOffered: failover.returned.reprotect }),
      divergences,
    });
  }
  return { plans: out, maintenance, durability };
}
