/** What every fault test checks at the end, against the simulator's ground truth and the event log. */
import { expect } from 'vitest';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import type { WorldTruth } from '../../simulators/index.ts';

/** Accepted mutating calls per VM and site (every call minus the refused ones). */
export function acceptedCalls(truth: WorldTruth): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const [vm, sites] of Object.entries(truth.mutations)) {
    for (const [site, ops] of Object.entries(sites)) {
      const calls = Object.values(ops).reduce((a, b) => a + b, 0);
      const refused = Object.values(truth.refused[vm]?.[site] ?? {}).reduce((a, b) => a + (b ?? 0), 0);
      const perSite = result[vm] ?? {};
      perSite[site] = calls - refused;
      result[vm] = perSite;
    }
  }
  return result;
}

export function expectFailedOverOnce(plan: RecoveryPlan, truth: WorldTruth): void {
  for (const vm of plan.vms) expect(truth.vms[vm.name]?.primarySites, vm.name).toEqual([plan.target]);
  expect(truth.splitBrain).toEqual([]);
  const failovers = truth.failovers.filter((f) => f.kind !== 'test');
  expect(failovers.length).toBe(plan.vms.length);
}

/** Steps started more than once (a job run twice), from the event log. */
export async function stepsStartedTwice(
  redisUrl: string,
  prefix: string,
  execution: string,
): Promise<string[]> {
  const redis = createQueueConnection(redisUrl);
  try {
    const counts = new Map<string, number>();
    for (const { event } of await readAllEvents(redis, prefix, execution)) {
      if (event.type === 'step-started')
        counts.set(`${event.step}#${event.attempt}`, (counts.get(`${event.step}#${event.attempt}`) ?? 0) + 1);
    }
    return [...counts].filter(([, n]) => n > 1).map(([step]) => step);
  } finally {
    await redis.quit();
  }
}
