/**
 * Regression tests of the security review of the agent routes: what a site agent may not post.
 */

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { stripControlDeep } from '../../engine/common/index.ts';
import { type EngineEvent, STEP_OUTPUT_LIMITS, stepOutputSchema } from '../../engine/contract/index.ts';
import { agentHubOf } from '../../engine/control/index.ts';
import { divergenceLine, divergencesOf, executionKeys } from '../../engine/executor/index.ts';
import { markFailedOver } from '../../engine/locks/index.ts';
import { useAgentControl } from './agent-app.ts';

const EAST = 'dc-east';
const WEST = 'dc-west';
const NORTH = 'dc-north';
const AT = '2026-01-01T00:00:00.000Z';

function diverged(site: string, more: Record<string, unknown> = {}) {
  return {
    v: 1,
    at: AT,
    type: 'diverged',
    execution: 'exec-1',
    vm: 'app-09',
    site,
    runsAt: WEST,
    ranFrom: AT,
    ranUntil: '2026-01-01T00:01:00.000Z',
    ranMs: 60_000,
    fenced: true,
    discard: {},
    detectedBy: 'fence-sweep',
    ...more,
  };
}

describe('the agent routes, against forged messages', () => {
  const control = useAgentControl('agent-harden');
  const { ctx, redis, post } = control;
  const sessions: Record<string, string> = {};
  const divergences = (site: string, events: unknown[]) =>
    post(`/api/v1/agents/${site}/divergences`, { session: sessions[site], events });

  beforeAll(async () => {
    for (const site of [EAST, WEST, NORTH]) sessions[site] = await control.session(site);
    // exec-1 failed app-09 over from east to west (its plan's two sites).
    await redis.set(executionKeys(ctx.prefix, 'exec-1').plan, JSON.stringify({ source: EAST, target: WEST }));
    await markFailedOver(redis, ctx.prefix, ['app-09'], {
      plan: 'p',
      execution: 'exec-1',
      site: WEST,
      direction: 'forward',
      at: AT,
    });
  });

  describe('a divergence', () => {
    it('from the site the VM failed over away from is accepted', async () => {
      const reply = await divergences(EAST, [diverged(EAST)]);
      expect(reply.statusCode, reply.body).toBe(200);
    });

    it('from a site with no part in the failover is refused with 422', async () => {
      const reply = await divergences(NORTH, [diverged(NORTH)]);
      expect(reply.statusCode, reply.body).toBe(422);
      expect(reply.json().code).toBe('DIVERGENCE_NOT_OF_SITE');
    });

    it('from the site the VM now runs at is refused with 422', async () => {
      const reply = await divergences(WEST, [diverged(WEST, { runsAt: EAST })]);
      expect(reply.statusCode, reply.body).toBe(422);
    });

    it('naming another site than the failover target as where it runs is refused with 422', async () => {
      const reply = await divergences(EAST, [diverged(EAST, { runsAt: NORTH })]);
      expect(reply.statusCode, reply.body).toBe(422);
    });

    it.each(['ranFrom', 'ranUntil', 'at'])(
      'with a %s that is no ISO time is refused with 400',
      async (field) => {
        const reply = await divergences(EAST, [diverged(EAST, { [field]: 'garbage' })]);
        expect(reply.statusCode, reply.body).toBe(400);
      },
    );
  });

  // Regression: any agent could ask about any VM and learn where and by what it failed over.
  describe("a fence sweep's failed-over query", () => {
    const failedOver = (site: string, vms: string[]) =>
      post(`/api/v1/agents/${site}/failed-over`, { session: sessions[site], vms });

    it.each([EAST, WEST])('from a site of the failover (%s) is answered', async (site) => {
      const reply = await failedOver(site, ['app-09', 'never-failed-over']);
      expect(reply.statusCode, reply.body).toBe(200);
      expect(reply.json().records).toEqual({ 'app-09': { execution: 'exec-1', site: WEST } });
    });

    it('from a site with no part in it is refused with 403, naming the VM', async () => {
      const reply = await failedOver(NORTH, ['app-09']);
      expect(reply.statusCode, reply.body).toBe(403);
      expect(reply.headers['content-type']).toMatch(/problem\+json/);
      expect(reply.json()).toMatchObject({ code: 'FAILED_OVER_NOT_OF_SITE' });
      expect(reply.json().detail).toContain('app-09');
    });

    it("about a failover whose execution's plan snapshot is gone is answered (the sweep must still fence)", async () => {
      await markFailedOver(control.redis, control.ctx.prefix, ['app-77'], {
        plan: 'p',
        execution: 'exec-gone',
        site: WEST,
        direction: 'forward',
        at: AT,
      });
      const reply = await failedOver(NORTH, ['app-77']);
      expect(reply.statusCode, reply.body).toBe(200);
      expect(reply.json().records).toEqual({ 'app-77': { execution: 'exec-gone', site: WEST } });
    });

    it('about VMs with no failover is answered with none, from any site', async () => {
      const reply = await failedOver(NORTH, ['never-failed-over']);
      expect(reply.statusCode, reply.body).toBe(200);
      expect(reply.json().records).toEqual({});
    });
  });

  it('polls of site names with no session leave no waiting entry behind', async () => {
    for (let i = 0; i < 20; i++) {
      const reply = await post(`/api/v1/agents/ghost-${i}/units:poll`, {
        session: 'f'.repeat(32),
        max: 1,
        waitMs: 0,
      });
      expect(reply.statusCode, reply.body).toBeGreaterThanOrEqual(400);
      expect(reply.statusCode).toBeLessThan(500);
    }
    const served = await post(`/api/v1/agents/${EAST}/units:poll`, {
      session: sessions[EAST],
      max: 1,
      waitMs: 0,
    });
    expect(served.statusCode, served.body).toBe(200);
    expect(agentHubOf(ctx).wakingSites).toBe(0);
  });

  it('a heartbeat whose hostsSeenAt is no ISO time is refused with 400', async () => {
    const reply = await post(`/api/v1/agents/${EAST}/heartbeat`, {
      session: sessions[EAST],
      running: [],
      hostsSeenAt: 'yesterday',
    });
    expect(reply.statusCode, reply.body).toBe(400);
  });
});

describe('a divergence stored with a time that does not parse', () => {
  const event = (ranFrom: string, ranUntil: string, ranMs: number): EngineEvent =>
    ({ ...diverged(EAST, { ranFrom, ranUntil, ranMs }) }) as EngineEvent;

  it('is said as it was written, not thrown on (status and reprotect read it)', () => {
    const [d] = divergencesOf([
      event('garbage', '2026-01-01T00:01:00.000Z', Number.NaN),
      event('2026-01-01T00:00:30.000Z', '2026-01-01T00:02:00.000Z', 90_000),
    ]);
    expect(d?.episodes).toHaveLength(2);
    expect(() => divergenceLine(d ?? (undefined as never))).not.toThrow();
    expect(divergenceLine(d ?? (undefined as never))).toContain('host time garbage');
  });
});

describe('an agent message with control characters', () => {
  const control = useAgentControl('agent-cc');
  const { post } = control;
  let session = '';
  const hello = (more: Record<string, unknown> = {}) => control.hello(EAST, more);
  const failing = (message: string) => ({
    session,
    results: [
      {
        unit: 'exec-1.app-01/failover',
        execution: 'exec-1',
        result: {
          v: 1,
          steps: [
            {
              id: 'app-01/failover',
              outcome: 'failed',
              startedAt: AT,
              endedAt: AT,
              error: { code: 'HOST', message, retryable: false },
            },
          ],
        },
        events: [],
        sightings: [],
      },
    ],
  });

  beforeAll(async () => {
    session = await control.session(EAST);
  });

  it('is refused with 400 in a name (agentId)', async () => {
    const reply = await hello({ agentId: 'agent\u001b[2J' });
    expect(reply.statusCode, reply.body).toBe(400);
    expect(reply.body).toMatch(/control characters/);
  });

  it('is refused with 400 in the catalog folder', async () => {
    const reply = await hello({ scriptCatalog: { folder: 'C:\\scripts\r', scripts: {} } });
    expect(reply.statusCode, reply.body).toBe(400);
  });

  // Regression: a step's output was any record, so an agent could store any blob in the vault.
  it('is refused with 400 when a step output is a blob, naming where', async () => {
    const body = failing('failed');
    const step = body.results[0]?.result.steps[0] as Record<string, unknown>;
    step.output = { stdout: 'x'.repeat(20_000) };
    const bad = await post(`/api/v1/agents/${EAST}/results`, body);
    expect(bad.statusCode, bad.body).toBe(400);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
    expect(bad.body).toMatch(/steps\.0\.output\.stdout.*more than 16384/);
    step.output = { stdout: 'x'.repeat(8192) };
    // Past the schema: refused only because the unit was never handed out.
    expect((await post(`/api/v1/agents/${EAST}/results`, body)).statusCode).toBe(404);
  });

  it('is refused with 400 in free text, where newlines and tabs pass', async () => {
    const bad = await post(`/api/v1/agents/${EAST}/results`, failing('failed\u001b]0;pwned\u0007'));
    expect(bad.statusCode, bad.body).toBe(400);
    // Past the schema: refused only because the unit was never handed out.
    const good = await post(`/api/v1/agents/${EAST}/results`, failing('failed:\n\tline two'));
    expect(good.statusCode, good.body).toBe(404);
  });
});

describe('stripControlDeep, as an agent cleans a post', () => {
  it('drops control characters from every string and key but newlines and tabs', () => {
    expect(stripControlDeep({ 'a\u001b': ['x\ry', { m: 'l1\n\tl2\u0007' }], n: 3 })).toEqual({
      a: ['xy', { m: 'l1\n\tl2' }],
      n: 3,
    });
  });

  it('hands back a clean value as it is, and finds a control character deep in a large one', () => {
    const clean = {
      results: Array.from({ length: 50 }, (_, i) => ({ unit: `u${i}`, events: [{ m: 'ok\n' }] })),
    };
    expect(stripControlDeep(clean)).toBe(clean);
    const dirty = structuredClone(clean);
    (dirty.results[49]?.events[0] as { m: string }).m = 'bad\u009b';
    const cleaned = stripControlDeep(dirty);
    expect(cleaned).not.toBe(dirty);
    expect(cleaned.results[49]?.events[0]?.m).toBe('bad');
    expect(cleaned.results[0]).toEqual(clean.results[0]);
  });
});

describe("a step's output", () => {
  const L = STEP_OUTPUT_LIMITS;
  const nested = (levels: number): Record<string, unknown> =>
    levels <= 1 ? { leaf: 1 } : { next: nested(levels - 1) };

  it("passes as handlers write it: a fence's divergence, a script's 8 KiB tails", () => {
    const fence = {
      fenced: true,
      site: 'dc-east',
      epoch: 4,
      wasRunning: true,
      divergence: { vm: 'app-09', ranMs: 1, discard: { since: AT, bytes: 10 } },
    };
    const script = { exitCode: 0, stdout: `${'x'.repeat(8191)}\n`, stderr: 'warn:\tline', truncated: true };
    for (const output of [fence, script, {}, { list: [1, 'a', null, false, { k: [] }] }])
      expect(stepOutputSchema.safeParse(output).success, JSON.stringify(output).slice(0, 80)).toBe(true);
  });

  it.each([
    ['a string over the cap', { stdout: 'x'.repeat(L.stringChars + 1) }, /more than 16384/],
    [
      'too many keys',
      Object.fromEntries(Array.from({ length: L.keys + 1 }, (_, i) => [`k${i}`, i])),
      /65 keys/,
    ],
    ['too long an array', { list: Array.from({ length: L.items + 1 }, () => 0) }, /257 items/],
    ['nesting past the depth', nested(L.depth + 1), /deeper than 5 levels/],
    [
      'a whole over the cap',
      Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'x'.repeat(9000)])),
      /characters as JSON/,
    ],
    ['control characters', { stdout: 'ok\u001b]0;pwned\u0007' }, /control characters/],
    ['a control character in a key', { 'a\u001b': 1 }, /a key of at most/],
  ])('is refused with %s, saying where and why', (_name, output, why) => {
    const parsed = stepOutputSchema.safeParse(output);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(why);
  });

  it('is refused past any limit and passes within them, for any JSON value (fuzzed)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), (output) => {
        const size = JSON.stringify(output).length;
        const within = (value: unknown, depth: number): boolean => {
          if (typeof value === 'string')
            return value.length <= L.stringChars && !/[\p{Cc}]/u.test(value.replace(/[\n\t]/g, ''));
          if (typeof value === 'number') return Number.isFinite(value);
          if (value === null || typeof value !== 'object') return true;
          if (depth > L.depth) return false;
          const items = Array.isArray(value) ? value : Object.values(value);
          const keys = Array.isArray(value) ? [] : Object.keys(value);
          if (items.length > (Array.isArray(value) ? L.items : L.keys)) return false;
          if (keys.some((k) => k.length > L.keyChars || /\p{Cc}/u.test(k))) return false;
          return items.every((item) => within(item, depth + 1));
        };
        const expected = within(output, 1) && size <= L.totalChars;
        expect(stepOutputSchema.safeParse(output).success).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
