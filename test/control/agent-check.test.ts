/**
 * The hub's periodic check (hub.ts checkWaiters): what a lost message leaves waiting is found
 * there. The check looks at each unit at intervals growing with its age, so these hold that a
 * unit waited for since several checks, and one handed to a session that is replaced meanwhile,
 * are still found.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HandedUnit, UnitReport } from '../../engine/contract/index.ts';
import { agentKeys } from '../../engine/control/agents/index.ts';
import { agentHubOf } from '../../engine/control/index.ts';
import { type AgentControl, agentControl } from './agent-app.ts';

const SITE = 'dc-west';

function unitOf(vm: string): HandedUnit {
  return {
    id: `exec-1.${vm}/failover`,
    data: {
      v: 1,
      execution: 'exec-1',
      epoch: 3,
      type: 'planned',
      direction: 'forward',
      site: SITE,
      fromSite: 'dc-east',
      toSite: SITE,
      steps: [`${vm}/failover`],
      vm,
      attempt: 1,
    },
    late: false,
    lateFailedOver: false,
    sightings: {},
  };
}

function reportOf(unit: HandedUnit): UnitReport {
  const at = new Date().toISOString();
  return {
    unit: unit.id,
    execution: 'exec-1',
    vm: String(unit.data.vm),
    result: {
      v: 1,
      steps: [{ id: `${String(unit.data.vm)}/failover`, outcome: 'done', startedAt: at, endedAt: at }],
    },
    events: [],
    sightings: [],
  };
}

let control: AgentControl | undefined;
afterEach(async () => {
  await control?.close();
  control = undefined;
});

describe("the hub's periodic check", () => {
  it('reads a report whose results message was lost, long after the unit was handed', {
    timeout: 30_000,
  }, async () => {
    control = agentControl('check-lost');
    await control.start();
    const hub = agentHubOf(control.ctx);
    const session = await control.session(SITE);
    const unit = unitOf('app-01');
    expect(await hub.hand(SITE, unit)).toBeUndefined();
    const waited = hub.waitFor(SITE, unit, new AbortController().signal);
    // The session stays live (its polls are heard from), so only the unit's own checks find it.
    const app = control;
    const poll = (): void => {
      void app.post(`/api/v1/agents/${SITE}/units:poll`, { session, max: 1, waitMs: 0 });
    };
    poll();
    const live = setInterval(poll, 300);
    // Past several checks (500 ms each), so the unit is checked at its grown interval by then.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Recorded as RECORD records it, but with no message on the results channel.
    const report = reportOf(unit);
    await control.redis.hset(
      `${agentKeys(control.ctx.prefix, SITE).unitPrefix}${unit.id}`,
      'r',
      JSON.stringify(report),
    );

    try {
      expect(await waited).toEqual(report);
    } finally {
      clearInterval(live);
    }
  });

  it('hands again at once the units of a session that was replaced', { timeout: 30_000 }, async () => {
    control = agentControl('check-replaced');
    await control.start();
    const hub = agentHubOf(control.ctx);
    const first = await control.session(SITE);
    const unit = unitOf('app-02');
    await hub.hand(SITE, unit);
    void hub.waitFor(SITE, unit, new AbortController().signal);
    const taken = await control.post(`/api/v1/agents/${SITE}/units:poll`, {
      session: first,
      max: 10,
      waitMs: 0,
    });
    expect(taken.json().units.map((u: HandedUnit) => u.id)).toEqual([unit.id]);
    // Past several checks: the unit is no longer looked at in each.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const second = await control.session(SITE);
    expect(second).not.toBe(first);

    // The first check after the replacement lists it again for the new session.
    const again = await control.post(`/api/v1/agents/${SITE}/units:poll`, {
      session: second,
      max: 10,
      waitMs: 1500,
    });
    expect(again.json().units.map((u: HandedUnit) => u.id)).toEqual([unit.id]);
  });
});
