/**
 * The dashboard's live data over a real drill (the control plane's orchestrator, the sites'
 * workers, the simulated world): an operator signed in by cookie follows the batched event stream
 * and approves the manual action from it with the CSRF header; the VM timeline folded from the
 * event log; the plan's graph; the overview stream; and a viewer who is offered no action and is
 * refused the approval anyway.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVmTimelines } from '../../engine/control/routes/execution-vms.ts';
import { readAllEvents } from '../../engine/executor/index.ts';
import { tokenFor } from '../support/auth.ts';
import { useTempDirs } from '../support/temp.ts';
import { type ApiEngine, startApiEngine } from './support.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;

interface Message {
  id?: string;
  event: string;
  data: Json;
}

/** Read an SSE response's messages until `stop` says so or the stream ends. */
async function readSse(
  response: Response,
  onMessage: (message: Message) => Promise<boolean | undefined> | boolean | undefined,
): Promise<Message[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const messages: Message[] = [];
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return messages;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const event = /^event: (.*)$/m.exec(block)?.[1];
        if (event === undefined) continue;
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const message = {
          event,
          data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null'),
          ...(id ? { id } : {}),
        };
        messages.push(message);
        if ((await onMessage(message)) === true) return messages;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

const temp = useTempDirs();

/** three-tier with its manual check in drills too: the page has something to approve. */
function planWithManualDrillStep(): string {
  const text = readFileSync('plans/examples/three-tier.yaml', 'utf8');
  const manual =
    'manual: Confirm that SAN replication for the ERP LUNs is paused\n      on: [planned, unplanned]';
  if (!text.includes(manual))
    throw new Error('three-tier.yaml changed: its manual action is not where this test expects');
  const file = join(temp('drorch-dash-plan-'), 'three-tier.yaml');
  writeFileSync(
    file,
    text.replace(manual, manual.replace('[planned, unplanned]', '[test, planned, unplanned]')),
  );
  return file;
}

describe('the dashboard following a drill', { timeout: 240_000 }, () => {
  let api: ApiEngine;
  let drill: string;
  const operator = { cookie: '', csrf: '' };
  const viewer = { cookie: '', csrf: '' };
  const drillOperator = { cookie: '', csrf: '' };
  let live: Message[] = [];

  const signIn = async (
    role: 'operator' | 'viewer' | 'drill-operator',
    into: { cookie: string; csrf: string },
  ) => {
    const token = await tokenFor(api.control, role, { owner: `page-${role}` });
    const answer = await fetch(`${api.control.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(answer.status).toBe(200);
    into.cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    into.csrf = ((await answer.json()) as Json).csrf;
  };

  beforeAll(async () => {
    api = await startApiEngine(planWithManualDrillStep());
    await signIn('operator', operator);
    await signIn('viewer', viewer);
    await signIn('drill-operator', drillOperator);
  }, 60_000);

  /** `allowed` of /executions/:id/vms for a signed-in page (the small answer, no rows). */
  const allowedFor = async (who: { cookie: string }, id: string): Promise<string[]> => {
    const answer = await fetch(`${api.control.url}/api/v1/executions/${id}/vms?rows=false`, {
      headers: { cookie: who.cookie },
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Json;
    expect(body.vms).toEqual([]);
    return body.allowed;
  };
  afterAll(async () => await api?.close());

  it('follows the batched stream to the end and approves the manual action from it', async () => {
    const submitted = await api.client.submit({
      type: 'test',
      plan: api.plan,
      hash: api.hash,
      source: { file: api.file, text: api.text },
      reason: 'the dashboard follows a drill',
    });
    drill = submitted.id;
    const stream = await fetch(`${api.control.url}/api/v1/executions/${drill}/events?follow=1&batch=1`, {
      headers: { cookie: operator.cookie },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const approved: number[] = [];
    const whileWaiting: string[][] = [];
    const before = await allowedFor(operator, drill);
    live = await readSse(stream, async (message) => {
      if (message.event !== 'batch') return message.event === 'end';
      for (const event of message.data as Json[]) {
        if (event.type !== 'execution-status' || !event.detail?.startsWith('waiting for approval of '))
          continue;
        const action = event.detail.slice('waiting for approval of '.length).split(':')[0];
        whileWaiting.push(await allowedFor(operator, drill), await allowedFor(viewer, drill));
        const answer = await fetch(`${api.control.url}/api/v1/executions/${drill}/approvals`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            cookie: operator.cookie,
            'x-csrf-token': operator.csrf,
          },
          body: JSON.stringify({ action, comment: 'from the page' }),
        });
        approved.push(answer.status);
      }
      return false;
    });
    expect(approved.length).toBeGreaterThan(0);
    // `allowed` follows the state: approve only while the manual action waits (and never cleanup
    // of a drill still running); a viewer is offered nothing at any point.
    expect(before).not.toContain('cleanup');
    expect(whileWaiting[0]).toContain('approve');
    expect(whileWaiting[0]).not.toContain('cleanup');
    expect(whileWaiting[1]).toEqual([]);
    expect(approved.every((status) => status === 200)).toBe(true);
    expect(live.at(-1)?.event).toBe('end');
    const batches = live.filter((m) => m.event === 'batch');
    // Coalesced: fewer messages than events, each id the last event's, together the whole log.
    const log = await readAllEvents(api.control.ctx.redis, api.control.ctx.prefix, drill);
    const sent = batches.flatMap((m) => m.data as Json[]);
    expect(sent.map((e) => e.type)).toEqual(log.map((s) => s.event.type));
    expect(batches.length).toBeLessThan(log.length);
    expect(batches.at(-1)?.id).toBe(log.at(-1)?.id);
  });

  it('resumes from Last-Event-ID with only what came after it', async () => {
    const log = await readAllEvents(api.control.ctx.redis, api.control.ctx.prefix, drill);
    const middle = log[Math.floor(log.length / 2)];
    const stream = await fetch(`${api.control.url}/api/v1/executions/${drill}/events?follow=1&batch=1`, {
      headers: { cookie: viewer.cookie, 'last-event-id': middle?.id ?? '0' },
    });
    const messages = await readSse(stream, (m) => m.event === 'end');
    const sent = messages.filter((m) => m.event === 'batch').flatMap((m) => m.data as Json[]);
    expect(sent.map((e) => e.type)).toEqual(
      log.slice(Math.floor(log.length / 2) + 1).map((s) => s.event.type),
    );
  });

  it('draws one row per VM from the event log, with waves, times and the last step', async () => {
    const answer = await fetch(`${api.control.url}/api/v1/executions/${drill}/vms`, {
      headers: { cookie: operator.cookie },
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Json;
    expect(body.vms.map((r: Json) => r.vm).sort()).toEqual(api.plan.vms.map((vm) => vm.name).sort());
    for (const row of body.vms) {
      expect(row.state).toBe('ready');
      expect(Date.parse(row.endedAt)).toBeGreaterThanOrEqual(Date.parse(row.startedAt));
      // Its own steps, or an action attached to it (web-01's notify-oncall).
      expect(row.step).toMatch(new RegExp(`^(${row.vm}/|action/)`));
    }
    const wave = (vm: string) => body.vms.find((r: Json) => r.vm === vm)?.wave;
    // three-tier: sql-01, then app-01 and app-02, then web-01.
    expect(wave('sql-01')).toBe(0);
    expect(wave('app-01')).toBe(1);
    expect(wave('web-01')).toBe(2);
    expect(body.execution).toMatchObject({ id: drill, status: 'awaiting-cleanup', waves: 3, currentWave: 3 });
    expect(body.execution.elapsedMs).toBeGreaterThan(0);
    expect(body.execution.estimateMs).toBeGreaterThan(0);
    // Ended, awaiting its cleanup: nothing waits for approval, no step is paused, cleanup is open.
    expect(body.allowed).toEqual(['cleanup']);
  });

  it("offers a drill operator the drill's cleanup, and a viewer none", async () => {
    expect(await allowedFor(drillOperator, drill)).toEqual(['cleanup']);
    expect(await allowedFor(viewer, drill)).toEqual([]);
  });

  it('saves the fold, so another control plane starts from it with the same rows', async () => {
    const { ctx } = api.control;
    expect(await ctx.redis.exists(`${ctx.prefix}:dash:timeline:${drill}`)).toBe(1);
    const viaApi = (await (
      await fetch(`${api.control.url}/api/v1/executions/${drill}/vms`, {
        headers: { cookie: operator.cookie },
      })
    ).json()) as Json;
    // A new set of folds (as a control plane that just started has), from the saved one.
    const fresh = await createVmTimelines(ctx)(drill, undefined);
    expect(fresh.vms).toEqual(viaApi.vms);
    expect(fresh.execution.waves).toBe(viaApi.execution.waves);
    expect(fresh.allowed).toEqual([]);
  });

  it('offers a viewer no action, and refuses its approval anyway', async () => {
    const body = (await (
      await fetch(`${api.control.url}/api/v1/executions/${drill}/vms`, { headers: { cookie: viewer.cookie } })
    ).json()) as Json;
    expect(body.allowed).toEqual([]);
    const refused = await fetch(`${api.control.url}/api/v1/executions/${drill}/approvals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: viewer.cookie, 'x-csrf-token': viewer.csrf },
      body: JSON.stringify({ action: 'confirm-san' }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Json).code).toBe('FORBIDDEN');
  });

  it("draws the plan's graph with its critical path and both RTO estimates", async () => {
    const graph = (await (
      await fetch(`${api.control.url}/api/v1/plans/${api.plan.metadata.name}/graph?type=test`, {
        headers: { cookie: viewer.cookie },
      })
    ).json()) as Json;
    const ids = new Set(graph.nodes.map((n: Json) => n.id));
    expect(ids.has('sql-01/failover')).toBe(true);
    for (const edge of graph.edges) expect(ids.has(edge.from) && ids.has(edge.to)).toBe(true);
    expect(graph.edges).toContainEqual({ from: 'sql-01/failover', to: 'sql-01/boot' });
    expect(graph.criticalPath.length).toBeGreaterThan(0);
    for (const id of graph.criticalPath) expect(ids.has(id)).toBe(true);
    expect(graph.estimatedRtoMs).toBeGreaterThan(0);
    expect(graph.estimatedRtoMs).toBeLessThanOrEqual(graph.sequentialGroupsRtoMs);
    const sql = graph.nodes.find((n: Json) => n.id === 'sql-01/failover');
    expect(sql).toMatchObject({ kind: 'failover', vm: 'sql-01', label: 'sql-01 failover' });
    expect(graph.nodes.find((n: Json) => n.id === 'web-01/failover').wave).toBeGreaterThan(sql.wave);
  });

  it('tells the overview of the drill on /stream, first batch holding the current state', async () => {
    const stream = await fetch(`${api.control.url}/api/v1/stream`, { headers: { cookie: viewer.cookie } });
    expect(stream.status).toBe(200);
    const messages = await readSse(stream, (m) => m.event === 'batch');
    const items = messages[0]?.data as Json[];
    expect(items).toContainEqual(
      expect.objectContaining({ kind: 'execution', id: drill, status: 'awaiting-cleanup', plan: 'erp' }),
    );
    // A reconnect with the last id gets nothing it has seen: the next batch is a later change.
    expect(messages[0]?.id).toMatch(/^\d+-\d+$/);
  });

  it('refuses the streams without a session or token', async () => {
    for (const path of ['/api/v1/stream', `/api/v1/executions/${drill}/events?batch=1`]) {
      const answer = await fetch(`${api.control.url}${path}`);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
    }
  });
});
