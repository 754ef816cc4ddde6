import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HandedUnit } from '../../engine/contract/index.ts';
import { agentKeys } from '../../engine/control/agents/index.ts';
import { agentHubOf, CONTROL_VERSION } from '../../engine/control/index.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { useAgentControl } from './agent-app.ts';

const EAST = 'dc-east';
const WEST = 'dc-west';

function unitFor(id: string, site: string, vm: string): HandedUnit {
  return {
    id,
    data: {
      v: 1,
      execution: 'exec-1',
      epoch: 3,
      type: 'planned',
      direction: 'forward',
      site,
      fromSite: EAST,
      toSite: WEST,
      steps: [`${vm}/failover`, `${vm}/boot`],
      vm,
      attempt: 1,
    },
    late: false,
    lateFailedOver: false,
    sightings: {},
  };
}

function reportFor(id: string, vm: string, site = WEST) {
  const at = new Date().toISOString();
  return {
    unit: id,
    execution: 'exec-1',
    vm,
    result: {
      v: 1,
      steps: [
        { id: `${vm}/failover`, outcome: 'done', startedAt: at, endedAt: at },
        { id: `${vm}/boot`, outcome: 'done', startedAt: at, endedAt: at },
      ],
    },
    events: [
      { v: 1, at, type: 'step-started', execution: 'exec-1', step: `${vm}/failover`, site, attempt: 1 },
    ],
    sightings: [],
  };
}

describe('the agent routes', () => {
  const control = useAgentControl('agents');
  const { ctx, redis, post } = control;
  let west = '';
  let east = '';
  const hello = (site: string, version = CONTROL_VERSION) => control.hello(site, { version });

  beforeAll(async () => {
    west = await control.session(WEST);
    east = await control.session(EAST);
    // A unit handed out to the west agent, as a relay does, and taken by its poll.
    await agentHubOf(ctx).hand(WEST, unitFor('exec-1.app-01/failover', WEST, 'app-01'));
    const polled = await post(`/api/v1/agents/${WEST}/units:poll`, { session: west, max: 10, waitMs: 0 });
    if (polled.statusCode !== 200) throw new Error(polled.body);
    expect(polled.json().units.map((u: HandedUnit) => u.id)).toEqual(['exec-1.app-01/failover']);
  });

  it('refuses an agent of another major.minor with 426, naming both versions', async () => {
    const reply = await hello(WEST, '9.4.0');
    expect(reply.statusCode).toBe(426);
    expect(reply.json().detail).toContain('9.4.0');
    expect(reply.json().detail).toContain(CONTROL_VERSION);
  });

  it('lists the sites with their agent, version and heartbeat age', async () => {
    const reply = await post(`/api/v1/agents/${WEST}/heartbeat`, { session: west, running: [] });
    expect(reply.statusCode).toBe(200);
    // GET /sites is a people route: a token; the agents' own posts above took none.
    const token = await adminToken({ redis: control.ctx.redis, prefix: control.ctx.prefix });
    const sites = (await control.app.inject({ url: '/api/v1/sites', headers: bearer(token) })).json().sites;
    expect(sites.map((s: { site: string }) => s.site)).toEqual([EAST, WEST]);
    expect(sites[1]).toMatchObject({ agentId: `agent-${WEST}`, version: CONTROL_VERSION, live: true });
    const doc = (await control.app.inject('/openapi.json')).json();
    expect(Object.keys(doc.paths)).toContain('/api/v1/agents/{site}/units:poll');
  });

  // Regression: a second agent's hello silently replaced the live one ("the latest hello wins").
  describe('a hello for a site whose agent is live', () => {
    const SOUTH = 'dc-south';
    const helloAs = (agentId: string, more: Record<string, unknown> = {}) =>
      post(`/api/v1/agents/${SOUTH}/hello`, {
        site: SOUTH,
        agentId,
        version: CONTROL_VERSION,
        scriptCatalog: { scripts: {} },
        ...more,
      });
    const beat = (session: string) => post(`/api/v1/agents/${SOUTH}/heartbeat`, { session, running: [] });

    it('from another agent id is refused with 409, naming the running agent and how to replace it', async () => {
      const first = (await helloAs('agent-one')).json().session;
      const second = await helloAs('agent-two');
      expect(second.statusCode, second.body).toBe(409);
      expect(second.headers['content-type']).toMatch(/problem\+json/);
      expect(second.json()).toMatchObject({ code: 'SITE_HAS_AGENT' });
      expect(second.json().detail).toMatch(
        /served by agent agent-one .*session ends \(5 s after .*--replace/,
      );
      // The running one was left alone.
      expect((await beat(first)).statusCode).toBe(200);
      const token = await adminToken({ redis: control.ctx.redis, prefix: control.ctx.prefix });
      const sites = (await control.app.inject({ url: '/api/v1/sites', headers: bearer(token) })).json().sites;
      expect(sites.find((x: { site: string }) => x.site === SOUTH)).toMatchObject({ agentId: 'agent-one' });
    });

    it('from the same agent id (its link saying hello again) is accepted, ending its old session', async () => {
      const old = (await helloAs('agent-one')).json().session;
      const again = await helloAs('agent-one');
      expect(again.statusCode, again.body).toBe(200);
      expect((await beat(again.json().session)).statusCode).toBe(200);
      expect((await beat(old)).json()).toMatchObject({ code: 'AGENT_REPLACED' });
    });

    it('that says replace takes the site over; the replaced agent is told so', async () => {
      const old = (await helloAs('agent-one')).json().session;
      const taken = await helloAs('agent-two', { replace: true });
      expect(taken.statusCode, taken.body).toBe(200);
      const refused = await beat(old);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'AGENT_REPLACED' });
    });

    it('is accepted from another agent once the running one is no longer heard from', async () => {
      await helloAs('agent-one');
      // Its last heartbeat 6 s ago: past the 5 s session TTL.
      await redis.hset(agentKeys(ctx.prefix, SOUTH).session, 'heartbeatAt', String(Date.now() - 6000));
      const next = await helloAs('agent-two');
      expect(next.statusCode, next.body).toBe(200);
    });
  });

  describe('a poll over HTTP with nothing ready', () => {
    // Regression: the poll ended when the request's 'close' fired, which Node emits as soon as the
    // body was read, so every poll answered empty at once and the agents polled in a tight loop.
    it('waits, and answers with the unit handed while it waited', async () => {
      const base = await control.listen();
      const polled = fetch(`${base}/api/v1/agents/${EAST}/units:poll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session: east, max: 10, waitMs: 20_000 }),
      }).then(async (reply) => ((await reply.json()) as { units: HandedUnit[] }).units.map((u) => u.id));
      let answered = false;
      void polled.then(() => {
        answered = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(answered).toBe(false);
      await agentHubOf(ctx).hand(EAST, unitFor('exec-1.web-01/failover', EAST, 'web-01'));
      expect(await polled).toEqual(['exec-1.web-01/failover']);
    });
  });

  describe('a result', () => {
    it('for a unit never handed out is refused with 404', async () => {
      const reply = await post(`/api/v1/agents/${WEST}/results`, {
        session: west,
        results: [reportFor('exec-1.web-01/failover', 'web-01')],
      });
      expect(reply.statusCode).toBe(404);
      expect(reply.json()).toMatchObject({ code: 'UNKNOWN_UNIT' });
    });

    it("for another site's unit (posted by that site's agent) is refused", async () => {
      const reply = await post(`/api/v1/agents/${EAST}/results`, {
        session: east,
        results: [reportFor('exec-1.app-01/failover', 'app-01')],
      });
      expect(reply.statusCode).toBe(404);
      // With the other site's session on this site's route: not this site's session.
      const crossed = await post(`/api/v1/agents/${EAST}/results`, {
        session: west,
        results: [reportFor('exec-1.app-01/failover', 'app-01')],
      });
      expect(crossed.statusCode).toBe(409);
    });

    it('with an unknown field is refused with 400 and counted', async () => {
      const report = { ...reportFor('exec-1.app-01/failover', 'app-01'), extra: true };
      const reply = await post(`/api/v1/agents/${WEST}/results`, { session: west, results: [report] });
      expect(reply.statusCode).toBe(400);
      expect(reply.json().detail).toMatch(/results\.0/);
      const metrics = (await control.app.inject('/metrics')).body;
      expect(metrics).toMatch(
        /drorch_requests_refused_total\{route="\/api\/v1\/agents\/:site\/results",code="BAD_REQUEST"\}/,
      );
    });

    it("with steps, VM or events not the unit's is refused with 422", async () => {
      const wrongVm = { ...reportFor('exec-1.app-01/failover', 'app-01'), vm: 'app-02' };
      const wrongEvent = reportFor('exec-1.app-01/failover', 'app-01');
      wrongEvent.events[0] = { ...wrongEvent.events[0]!, execution: 'exec-2' };
      const wrongSteps = reportFor('exec-1.app-01/failover', 'app-01');
      wrongSteps.result.steps.pop();
      for (const report of [wrongVm, wrongEvent, wrongSteps]) {
        const reply = await post(`/api/v1/agents/${WEST}/results`, { session: west, results: [report] });
        expect(reply.statusCode).toBe(422);
      }
    });

    it('that is right is accepted once, a repeat is a duplicate', async () => {
      const body = { session: west, results: [reportFor('exec-1.app-01/failover', 'app-01')] };
      expect((await post(`/api/v1/agents/${WEST}/results`, body)).json()).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      expect((await post(`/api/v1/agents/${WEST}/results`, body)).json()).toEqual({
        accepted: 0,
        duplicates: 1,
      });
    });
  });

  it('refuses 10,000 fuzzed agent messages with a 4xx each, never a 5xx', { timeout: 300_000 }, async () => {
    const routes = ['hello', 'heartbeat', 'units:poll', 'results', 'memo', 'failed-over', 'divergences'];
    const anyJson = fc.jsonValue({ maxDepth: 4 });
    // Near-valid bodies too (right session, right shape, one thing off), not only noise.
    const nearResult = fc.record({
      session: fc.constantFrom(west, east, 'f'.repeat(32)),
      results: fc.array(
        fc.record({
          unit: fc.constantFrom('exec-1.app-01/failover', 'exec-1.nope/failover', ''),
          execution: fc.constantFrom('exec-1', 'exec-2'),
          vm: fc.constantFrom('app-01', 'app-02'),
          result: fc.oneof(anyJson, fc.constant({ v: 1, steps: [] })),
          events: fc.array(anyJson, { maxLength: 3 }),
          sightings: fc.array(anyJson, { maxLength: 2 }),
          extra: fc.option(anyJson, { nil: undefined }),
        }),
        { maxLength: 3 },
      ),
    });
    const body = fc.oneof(
      anyJson,
      nearResult,
      fc.record({
        session: fc.constant(west),
        max: fc.integer(),
        waitMs: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.constant(30_000)),
      }),
    );
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.constantFrom(WEST, EAST, 'bad site!', 'x'.repeat(120)),
        body,
        async (route, site, payload) => {
          count += 1;
          const reply = await control.app.inject({
            method: 'POST',
            url: `/api/v1/agents/${encodeURIComponent(site)}/${route}`,
            payload: JSON.stringify(payload === undefined ? null : payload),
            headers: { 'content-type': 'application/json' },
          });
          // A fuzzed message that happens to be valid (a poll, a duplicate) may pass; none may crash.
          expect(reply.statusCode, reply.body).toBeLessThan(500);
          if (reply.statusCode >= 400)
            expect(reply.headers['content-type'], `${reply.statusCode} ${reply.body}`).toMatch(
              /problem\+json/,
            );
        },
      ),
      { numRuns: 10_000 },
    );
    expect(count).toBeGreaterThanOrEqual(10_000);
  });
});
