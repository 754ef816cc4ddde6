/**
 * The agent's failsafe decision (engine/agent/failsafe.ts) and the witness's verdict, as pure
 * functions: when an agent fences its own site, and when a probe says a site is unreachable.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Contacts,
  type FailsafeInput,
  failsafeConfigIssue,
  failsafeDecision,
} from '../../engine/agent/failsafe.ts';
import { witnessVerdict } from '../../engine/agent/peer.ts';
import { arbiterTakes } from '../../engine/arbiter/arbiter.ts';

const config = { leaseMs: 3000, fenceMs: 1000 };
const base = (over: Partial<FailsafeInput>): FailsafeInput => ({
  now: 0,
  config,
  contacts: {},
  startedAt: 0,
  lastCheckAt: 0,
  checkEveryMs: 250,
  fenced: false,
  ...over,
});

describe('the failsafe configuration', () => {
  it('refuses a lease shorter than twice the fence time, saying so', () => {
    expect(failsafeConfigIssue({ leaseMs: 1999, fenceMs: 1000 })).toMatch(
      /shorter than twice the fence time/,
    );
    expect(failsafeConfigIssue({ leaseMs: 2000, fenceMs: 1000 })).toBeUndefined();
    expect(failsafeConfigIssue({ leaseMs: 0, fenceMs: 1000 })).toMatch(/positive/);
    expect(failsafeConfigIssue({ leaseMs: 3000, fenceMs: Number.NaN })).toMatch(/positive/);
  });
});

describe('the failsafe decision', () => {
  it('holds while any one path acknowledged a renewal within lease minus fence time', () => {
    for (const path of ['control', 'peer', 'arbiter'] as const) {
      const contacts: Contacts = { [path]: 5000 };
      // 5000 + 3000 - 1000 = 7000: holds until then, fences from then.
      expect(failsafeDecision(base({ now: 6999, lastCheckAt: 6900, contacts })).action).toBe('hold');
      expect(failsafeDecision(base({ now: 7000, lastCheckAt: 6900, contacts })).action).toBe('fence');
    }
  });

  it('a control-plane outage seen by both sites who see each other: the peer path holds the lease', () => {
    // The control plane last acknowledged long ago; the peer keeps acknowledging.
    let lastCheckAt = 0;
    for (let now = 0; now < 60_000; now += 250) {
      const contacts: Contacts = { control: 1000, peer: now - 100 };
      expect(failsafeDecision(base({ now, lastCheckAt, contacts, startedAt: 0 })).action).toBe('hold');
      lastCheckAt = now;
    }
  });

  it('never fences while any contact is fresh, and always fences once none is (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          control: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
          peer: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
          arbiter: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
        }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 2, max: 100 }).chain((fence) =>
          fc.record({
            fenceMs: fc.constant(fence * 50),
            leaseMs: fc.integer({ min: fence * 100, max: 60_000 }),
          }),
        ),
        (raw, now, cfg) => {
          const contacts: Contacts = Object.fromEntries(
            Object.entries(raw).filter(([, v]) => v !== undefined),
          ) as Contacts;
          const latest = Math.max(0, ...Object.values(contacts).filter((v): v is number => v !== undefined));
          const decision = failsafeDecision(
            base({ now, config: cfg, contacts, lastCheckAt: now - 100, checkEveryMs: 100 }),
          );
          if (now < latest + cfg.leaseMs - cfg.fenceMs) expect(decision.action).toBe('hold');
          else expect(decision.action).toBe('fence');
        },
      ),
      { numRuns: 500, seed: 13 },
    );
  });

  it('a fresh agent holds for one lease from its start, no more', () => {
    expect(failsafeDecision(base({ now: 1999, lastCheckAt: 1900, startedAt: 0 })).action).toBe('hold');
    expect(failsafeDecision(base({ now: 2000, lastCheckAt: 1900, startedAt: 0 })).action).toBe('fence');
  });

  it('a paused agent that wakes past its lease renews first and fences only when that fails', () => {
    // Renewed at 1000, paused from 1100 to 10_000: the lease (until 4000) ran out while it slept.
    const woke = failsafeDecision(base({ now: 10_000, lastCheckAt: 1100, contacts: { control: 1000 } }));
    expect(woke).toMatchObject({ action: 'renew-first' });
    // The renewal round after waking was acknowledged (sent at 10_010): it holds on the new lease.
    expect(
      failsafeDecision(
        base({ now: 10_050, lastCheckAt: 10_000, renewedAfterWakeAt: 10_040, contacts: { control: 10_010 } }),
      ).action,
    ).toBe('hold');
    // Nothing acknowledged it: fence at once (the old lease is not acted on).
    expect(
      failsafeDecision(
        base({ now: 10_050, lastCheckAt: 10_000, renewedAfterWakeAt: 10_040, contacts: { control: 1000 } }),
      ).action,
    ).toBe('fence');
  });

  it('a renewal answered after a pause counts from when it was sent, not from the answer', () => {
    // Sent at 1000, answered at 10_000 after a pause: the lease it gave ended at 4000.
    const decision = failsafeDecision(
      base({ now: 10_000, lastCheckAt: 9_900, contacts: { control: 1000 }, renewedAfterWakeAt: 9_950 }),
    );
    expect(decision.action).toBe('fence');
  });

  it('once fenced, it does not fence again until the lease is held again', () => {
    expect(failsafeDecision(base({ now: 5000, lastCheckAt: 4900, fenced: true })).action).toBe('fenced');
  });
});

describe("the witness's verdict", () => {
  it('is reachable when the agent or any host answers, unreachable when none does', () => {
    const down = { target: 'TCP h:1', ok: false, detail: 'ECONNREFUSED' };
    const up = { target: 'TCP h:2', ok: true, detail: 'connected' };
    expect(witnessVerdict([down, down]).verdict).toBe('unreachable');
    expect(witnessVerdict([down, up]).verdict).toBe('reachable');
    // A dead agent on a healthy site: its hosts still answer.
    expect(witnessVerdict([{ target: 'GET a/alive', ok: false, detail: 'no answer' }, up]).verdict).toBe(
      'reachable',
    );
    // Nothing to probe: it cannot vouch for a loss.
    expect(witnessVerdict([]).verdict).toBe('reachable');
  });
});

describe("the arbiter's replay rule", () => {
  it('takes a higher sequence of the same incarnation and a later incarnation, nothing else', () => {
    const heard = { incarnation: 'aaaaaaaa', seq: 5, sentAt: 1000, at: 0 };
    expect(arbiterTakes(undefined, { incarnation: 'aaaaaaaa', seq: 0, sentAt: 0 })).toBe(true);
    expect(arbiterTakes(heard, { incarnation: 'aaaaaaaa', seq: 5, sentAt: 2000 })).toBe(false);
    expect(arbiterTakes(heard, { incarnation: 'aaaaaaaa', seq: 6, sentAt: 2000 })).toBe(true);
    expect(arbiterTakes(heard, { incarnation: 'bbbbbbbb', seq: 0, sentAt: 900 })).toBe(false);
    expect(arbiterTakes(heard, { incarnation: 'bbbbbbbb', seq: 0, sentAt: 1100 })).toBe(true);
  });
});
