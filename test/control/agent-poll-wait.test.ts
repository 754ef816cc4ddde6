/**
 * An agent's long poll for units over real HTTP (app.inject has no socket, so the agent-routes
 * suite cannot see this). Regression: the route ended its wait on the request's `close`, which
 * Node emits as soon as the request body was read; every poll with nothing ready then answered at
 * once with no units (the agents polled in a busy loop) and left a 25-s timer behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HandedUnit } from '../../engine/contract/index.ts';
import { agentHubOf, CONTROL_VERSION, type ControlContext } from '../../engine/control/index.ts';
import { agentControl } from './agent-app.ts';

const SITE = 'dc-west';

const unit: HandedUnit = {
  id: 'exec-1.app-01/failover',
  data: {
    v: 1,
    execution: 'exec-1',
    epoch: 3,
    type: 'planned',
    direction: 'forward',
    site: SITE,
    fromSite: 'dc-east',
    toSite: SITE,
    steps: ['app-01/failover'],
    vm: 'app-01',
    attempt: 1,
  },
  late: false,
  lateFailedOver: false,
  sightings: {},
};

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function controlPlane(): Promise<{ ctx: ControlContext; url: string }> {
  const control = agentControl('poll');
  await control.start();
  stop = () => control.close();
  return { ctx: control.ctx, url: await control.listen() };
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

describe('when an agent polls for units over HTTP and none is ready', () => {
  it('the poll waits and answers with the unit handed while it waits', { timeout: 30_000 }, async () => {
    const { ctx, url } = await controlPlane();
    const { session } = await post<{ session: string }>(`${url}/api/v1/agents/${SITE}/hello`, {
      site: SITE,
      agentId: 'agent-west',
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
    });
    let answered = false;
    const poll = post<{ units: HandedUnit[] }>(`${url}/api/v1/agents/${SITE}/units:poll`, {
      session,
      max: 10,
      waitMs: 20_000,
    }).finally(() => {
      answered = true;
    });
    // Long enough for a poll that does not wait to have answered already (it took ~0.1 s).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(answered).toBe(false);
    void agentHubOf(ctx).hand(SITE, unit); // resolves with the unit's report, which never comes

    expect((await poll).units.map((u) => u.id)).toEqual([unit.id]);
  });
});
