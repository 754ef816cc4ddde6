/**
 * Two submits of the same plan at the same moment, from two clients (two processes' worth of
 * connections): pre-flight passes for both, the atomic lock step lets exactly one through, the other
 * is refused naming the winner, and only one execution exists.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisExecutionClient } from '../../engine/client/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import { PreflightBlockedError } from '../../engine/preflight/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { erpPlan, gateWorld } from './support.ts';

const engines: TestEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

describe('two concurrent submits of one plan', () => {
  it('exactly one runs, round after round', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const second = createRedisExecutionClient({
      redisUrl: engine.redisUrl,
      prefix: engine.prefix,
      compile: compilePlan,
      inventory: engine.world.api,
    });
    try {
      for (let round = 1; round <= 3; round++) {
        const results = await Promise.allSettled(
          [engine.client, second].map((client) =>
            client.submit({ type: 'test', plan, hash: 'h', reason: `round ${round}` }),
          ),
        );
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        const winner = won[0];
        if (winner === undefined) throw new Error('no winner');
        const error = lost[0];
        expect(error).toBeInstanceOf(PreflightBlockedError);
        const report = (error as PreflightBlockedError).report;
        expect(report.blockers.map((b) => b.code)).toContain('PLAN_LOCKED');
        const locks = report.blockers.filter((b) => b.code === 'PLAN_LOCKED' || b.code === 'VM_LOCKED');
        expect(locks.every((b) => b.details?.execution === winner.id)).toBe(true);
        expect((await engine.client.list({ limit: 100 })).filter((e) => e.type === 'test')).toHaveLength(
          round,
        );
        // the drill runs, is cleaned up, and the plan is free for the next round
        await waitForStatus(engine.client, winner.id, ['awaiting-cleanup']);
        const cleanup = await engine.client.cleanup(winner.id, { reason: 'next round' });
        await waitForStatus(engine.client, cleanup.id, ['completed']);
      }
      const testVms = (await engine.world.api.listVMs('dc-west')).filter((vm) => vm.isTest);
      expect(testVms).toEqual([]);
      expect(engine.world.truth().failovers.filter((f) => f.kind === 'test')).toHaveLength(9);
    } finally {
      await second.close();
    }
  });
});
