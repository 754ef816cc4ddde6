import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  initialSiteMonitor,
  leaseEndsAt,
  nextSiteMonitorDeadline,
  type SiteMonitorConfig,
  type SiteMonitorEvent,
  type SiteMonitorSnapshot,
  siteMonitorConfigIssues,
  stepSiteMonitor,
} from '../../engine/machines/site-monitor.ts';

const config: SiteMonitorConfig = {
  leaseMs: 10_000,
  suspectAfterMs: 3_000,
  marginMs: 4_000,
  witnessEveryMs: 2_000,
};

function run(events: SiteMonitorEvent[], start = initialSiteMonitor('dc-east', config, 0)) {
  let snapshot = start;
  const asked: number[] = [];
  for (const event of events) {
    const step = stepSiteMonitor(snapshot, event);
    if (step.askWitness) asked.push(event.now);
    snapshot = step.snapshot;
  }
  return { snapshot, asked };
}

const renewal = (now: number, counter: number, incarnation = 'i1'): SiteMonitorEvent => ({
  type: 'RENEWAL',
  now,
  incarnation,
  counter,
  via: 'direct',
});
const tick = (now: number): SiteMonitorEvent => ({ type: 'TICK', now });
const witness = (now: number, askedAt: number, verdict: 'reachable' | 'unreachable'): SiteMonitorEvent => ({
  type: 'WITNESS',
  now,
  askedAt,
  verdict,
  by: 'peer',
  detail: verdict === 'reachable' ? 'agent answered' : 'agent and hosts: connection refused',
});

describe('the site monitor', () => {
  it('a newly elected leader declares nothing expired before it has watched a full lease', () => {
    expect(run([tick(9_999)]).snapshot.state).toBe('watching');
    const { snapshot, asked } = run([tick(10_000)]);
    expect(snapshot.state).toBe('expired');
    expect(asked).toEqual([10_000]);
  });

  it('goes suspect when renewals stop, and back online with the next one', () => {
    const { snapshot } = run([renewal(0, 1), tick(2_999)]);
    expect(snapshot.state).toBe('online');
    expect(run([renewal(0, 1), tick(3_000)]).snapshot.state).toBe('suspect');
    expect(run([renewal(0, 1), tick(3_000), renewal(3_500, 2)]).snapshot.state).toBe('online');
  });

  it('a replayed or older renewal extends nothing; a new incarnation starts its own count', () => {
    const replayed = run([renewal(0, 5), renewal(8_000, 5), renewal(8_500, 4), tick(10_000)]);
    expect(replayed.snapshot.state).toBe('expired');
    expect(leaseEndsAt(replayed.snapshot.context)).toBe(10_000);
    const restarted = run([renewal(0, 5), renewal(8_000, 0, 'i2'), tick(10_000)]);
    expect(restarted.snapshot.state).toBe('online');
    expect(leaseEndsAt(restarted.snapshot.context)).toBe(18_000);
    // The old incarnation (a paused agent waking up) renews nothing once a newer one was heard.
    const woke = run([renewal(9_000, 6, 'i1'), tick(18_000)], restarted.snapshot);
    expect(woke.snapshot.state).toBe('expired');
  });

  it('a lease out with the witness still reaching the site is isolation, never a loss', () => {
    let { snapshot, asked } = run([renewal(0, 1), tick(10_000)]);
    expect(snapshot.state).toBe('expired');
    ({ snapshot } = run([witness(10_100, asked[0] ?? -1, 'reachable')], snapshot));
    expect(snapshot.state).toBe('isolated');
    // Asked again every witnessEveryMs, and still reachable: it stays isolated however long.
    const later = run(
      [tick(11_000), tick(12_100), witness(12_200, 12_100, 'reachable'), tick(600_000)],
      snapshot,
    );
    expect(later.asked).toEqual([12_100, 600_000]);
    expect(later.snapshot.state).toBe('isolated');
    // The link comes back: online.
    expect(run([renewal(600_500, 2)], later.snapshot).snapshot.state).toBe('online');
  });

  it('lost only when the witness agrees and the margin past the expiry has passed', () => {
    const expired = run([renewal(0, 1), tick(10_000)]);
    const agreed = run([witness(10_200, 10_000, 'unreachable')], expired.snapshot);
    expect(agreed.snapshot.state).toBe('expired');
    expect(nextSiteMonitorDeadline(agreed.snapshot)).toBe(12_000);
    expect(run([tick(13_999)], agreed.snapshot).snapshot.state).toBe('expired');
    const lost = run([tick(14_000)], agreed.snapshot).snapshot;
    expect(lost.state).toBe('lost');
    expect(lost.context.lostAt).toBe(14_000);
    expect(lost.context.witness?.detail).toContain('connection refused');
    // A verdict given after the margin moves at once.
    expect(run([witness(15_000, 10_000, 'unreachable')], expired.snapshot).snapshot.state).toBe('lost');
  });

  it('drops a verdict that answers an older ask', () => {
    // Asked at 10,000; a renewal came; expired again and asked at 25,000: the 10,000 answer is stale.
    const { snapshot } = run([renewal(0, 1), tick(10_000), renewal(15_000, 2), tick(25_000)]);
    expect(snapshot.state).toBe('expired');
    expect(run([witness(30_000, 10_000, 'unreachable'), tick(40_000)], snapshot).snapshot.state).toBe(
      'expired',
    );
    expect(run([witness(30_000, 25_000, 'unreachable')], snapshot).snapshot.state).toBe('lost');
  });

  it('a lost site heard from before a failover started is online again; after one, it has returned', () => {
    const lost = run([renewal(0, 1), tick(10_000), witness(15_000, 10_000, 'unreachable')]).snapshot;
    expect(lost.state).toBe('lost');
    const back = run([renewal(16_000, 2)], lost).snapshot;
    expect(back.state).toBe('online');
    expect(back.context.lostAt).toBeUndefined();

    const failing = run([{ type: 'FAILOVER_STARTED', now: 15_100, execution: 'unplanned-1' }], lost).snapshot;
    expect(failing.state).toBe('failingOver');
    expect(failing.context.execution).toBe('unplanned-1');
    const done = run([{ type: 'FAILOVER_ENDED', now: 40_000 }], failing).snapshot;
    expect(done.state).toBe('failedOver');
    const returned = run([renewal(50_000, 2)], done).snapshot;
    expect(returned.state).toBe('returned');
    expect(returned.context.execution).toBe('unplanned-1');
    // Returned stays returned (reprotect is offered, never started) until a person acknowledges it.
    expect(run([tick(999_999)], returned).snapshot.state).toBe('returned');
    expect(run([{ type: 'ACKNOWLEDGED', now: 60_000 }], returned).snapshot.state).toBe('online');
  });

  it('keeps the last renewals as evidence', () => {
    const events = Array.from({ length: 30 }, (_, i) => renewal(i * 1_000, i));
    const { snapshot } = run(events);
    expect(snapshot.context.history).toHaveLength(20);
    expect(snapshot.context.history.at(-1)).toMatchObject({ at: 29_000, counter: 29, via: 'direct' });
  });

  it('refuses settings that cannot work, naming the field', () => {
    expect(siteMonitorConfigIssues(config)).toEqual([]);
    expect(siteMonitorConfigIssues({ ...config, suspectAfterMs: 10_000 })).toEqual([
      expect.objectContaining({ field: 'suspectAfterMs' }),
    ]);
    expect(siteMonitorConfigIssues({ ...config, marginMs: 0 }).map((i) => i.field)).toEqual(['marginMs']);
    expect(() => initialSiteMonitor('dc-east', { ...config, leaseMs: Number.NaN }, 0)).toThrow(/leaseMs/);
  });

  it('never declares a site lost within lease + margin of a fresh renewal, nor without the witness (property)', () => {
    const eventArb = fc.oneof(
      fc.record({ type: fc.constant('RENEWAL' as const), dt: fc.nat(6_000), counter: fc.nat(8) }),
      fc.record({ type: fc.constant('TICK' as const), dt: fc.nat(6_000) }),
      fc.record({ type: fc.constant('WITNESS' as const), dt: fc.nat(3_000), reach: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), (steps) => {
        let now = 0;
        let snapshot: SiteMonitorSnapshot = initialSiteMonitor('dc-east', config, 0);
        let lastAsk: number | undefined;
        let lastFresh = Number.NEGATIVE_INFINITY;
        let maxCounter = -1;
        let agreedSinceFresh = false;
        for (const step of steps) {
          now += step.dt;
          let event: SiteMonitorEvent;
          if (step.type === 'RENEWAL') {
            event = renewal(now, step.counter);
            if (step.counter > maxCounter) {
              maxCounter = step.counter;
              lastFresh = now;
              agreedSinceFresh = false;
            }
          } else if (step.type === 'TICK') event = tick(now);
          else event = witness(now, lastAsk ?? -1, step.reach ? 'reachable' : 'unreachable');
          const before = snapshot.state;
          const result = stepSiteMonitor(snapshot, event);
          if (result.askWitness) lastAsk = now;
          if (event.type === 'WITNESS' && event.verdict === 'unreachable' && event.askedAt === lastAsk) {
            agreedSinceFresh = true;
          }
          snapshot = result.snapshot;
          if (snapshot.state === 'lost' && before !== 'lost') {
            const since = Number.isFinite(lastFresh) ? lastFresh : 0;
            expect(now).toBeGreaterThanOrEqual(since + config.leaseMs + config.marginMs);
            expect(agreedSinceFresh).toBe(true);
          }
        }
      }),
      { numRuns: process.env.SOAK ? 20_000 : 500 },
    );
  });
});
