/**
 * What the gate tests share: a three-VM plan with network mapping (failover network + IP, isolated
 * test network + IP), a world for it (scaled clock, editable spec), and the "nothing happened"
 * snapshot: the executions Redis knows and every mutating call the simulator counted.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { globalKeys } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { PreflightBlockedError } from '../../engine/preflight/index.ts';
import { createWorld, type World, type WorldSpec, worldSpecForPlan } from '../../simulators/index.ts';
import { makePlan } from '../preflight/fixtures.ts';

export const net = (ip: string) => ({
  failover: { network: 'prod-west', ip },
  test: { network: 'drill-net', ip: ip.replace(/^10\./, '172.') },
});

/** erp: sql-01 ← app-01 ← web-01, each mapped to prod-west (drills: drill-net) with its own IP. */
export function erpPlan(): RecoveryPlan {
  return makePlan(
    [
      { name: 'sql-01', network: net('10.20.0.10') },
      { name: 'app-01', dependsOn: ['sql-01'], network: net('10.20.0.11') },
      { name: 'web-01', dependsOn: ['app-01'], network: net('10.20.0.12') },
    ],
    { targets: { rpoMs: 15 * 60_000 } },
  );
}

/** crm: another plan that also holds sql-01. */
export function crmPlan(): RecoveryPlan {
  return makePlan([{ name: 'sql-01', network: net('10.30.0.10') }], {
    metadata: { name: 'crm', labels: {} },
  });
}

/** A world for `plan` on a scaled clock (2000× by default), warmed up 5 h, spec edited first. */
export function gateWorld(plan: RecoveryPlan, edit?: (spec: WorldSpec) => void, speed = 2000): World {
  const spec = worldSpecForPlan(plan, { clock: { mode: 'scaled', speed } });
  edit?.(spec);
  const world = createWorld(spec);
  world.advance(5 * 3_600_000);
  return world;
}

export interface Footprint {
  executions: string[];
  mutations: string;
}

/** The executions stored under `prefix` and the simulator's count of mutating calls. */
export async function footprint(redis: Redis, prefix: string, world: World): Promise<Footprint> {
  return {
    executions: await redis.zrange(globalKeys(prefix).executions, '0', '-1'),
    mutations: JSON.stringify(world.truth().mutations),
  };
}

/** Awaits a submit that must be refused by pre-flight; returns the report. */
export async function refused(submit: Promise<unknown>): Promise<PreflightBlockedError['report']> {
  const error = await submit.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PreflightBlockedError);
  const blocked = error as PreflightBlockedError;
  expect(blocked.exitCode).toBe(1);
  expect(blocked.report.ok).toBe(false);
  return blocked.report;
}

export function blockerCodes(report: PreflightBlockedError['report']): string[] {
  return report.blockers.map((b) => (b.vm === undefined ? b.code : `${b.code}:${b.vm}`));
}
