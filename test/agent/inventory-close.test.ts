/**
 * The inventory reporter when its agent stops. Regression: a post cut short by the stop was
 * logged as a warning ("inventory not sent; a full follows"), so every stopped agent, and every
 * `drctl demo`, ended with warnings about a full that never follows.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startInventoryReporter } from '../../engine/agent/inventory.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { loadExample } from '../engine/support.ts';

describe('when the reporter is closed while a post is under way', () => {
  it('does not warn that the inventory was not sent', async () => {
    const { plan } = await loadExample('plans/examples/three-tier.yaml');
    const world = worldForPlan(plan, { clock: { mode: 'manual' } });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    let cutShort: ((error: Error) => void) | undefined;
    let postStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      postStarted = resolve;
    });
    const reporter = startInventoryReporter({
      driver: world.api,
      site: plan.target,
      log: pino({ level: 'debug' }, sink),
      post: () =>
        new Promise((_resolve, reject) => {
          cutShort = reject;
          postStarted();
        }),
    });
    try {
      await started;
      // As the agent's stop does: close, and the stop's signal aborts the post under way.
      const closing = reporter.close();
      cutShort?.(new Error('This operation was aborted'));
      await closing;
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      world.close();
    }

    expect(lines.filter((line) => line.includes('inventory not sent'))).toEqual([]);
  });
});
