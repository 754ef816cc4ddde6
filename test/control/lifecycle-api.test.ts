/**
 * The lifecycle, operator and locks routes of the control plane, against a real engine: a control
 * plane in process (its orchestrator), the sites' workers and a simulated world, on the test Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCancel, submitCommit } from '../../engine/executor/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { refusal, smallPlan, smallPlanText } from '../lifecycle/support.ts';
import { type LifecycleControl, startLifecycleControl } from './lifecycle-support.ts';

const a = smallPlan('la');
const b = smallPlan('lb');
/** lp-app2 fails its boot for good and pauses (then: pause) for an operator. */
const p = smallPlan('lp');
const pausing = p.plan.vms.find((vm) => vm.name === 'lp-app2');
if (pausing)
  pausing.onFailure = { retries: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' };
let live: LifecycleControl;
/** The failover of plan a, settled by the first test (the operator test reads it). */
let settledFailover: string | undefined;

beforeAll(async () => {
  live = await startLifecycleControl([a.plan, b.plan, p.plan]);
});
afterAll(async () => {
  await live?.close();
});

async function failedOver(plan: typeof a): Promise<string> {
  const { id } = await live.engine.client.submit({ type: 'planned', ...plan, reason: 'api test' });
  expect((await waitForStatus(live.engine.client, id, ['completed', 'failed'])).status).toBe('completed');
  return id;
}

const who = { by: 'api-tester', reason: 'lifecycle API test' };

describe('the lifecycle API', { timeout: 120_000 }, () => {
  it('commits, refuses the cancel past the point of no return as the engine does, reprotects and fails back', async () => {
    const id = await failedOver(a);
    settledFailover = id;
    const commit = await live.api('POST', `/executions/${id}/commit`, who);
    expect(commit.status).toBe(200);
    expect(commit.body).toMatchObject({ id: `${id}-commit-1`, created: true, run: { parent: id } });
    expect(commit.body.preflight).toMatchObject({ ok: true, operation: 'commit' });
    expect((await waitForStatus(live.engine.client, commit.body.id, ['completed', 'failed'])).status).toBe(
      'completed',
    );
    expect((await live.engine.client.get(id)).status).toBe('committed');

    const cancel = await live.api('POST', `/executions/${id}/cancel`, who);
    const direct = await refusal(submitCancel(live.engine.redis, live.engine.prefix, id, live.engine.who));
    expect(direct.code).toBe('PAST_POINT_OF_NO_RETURN');
    expect(cancel.status).toBe(400);
    expect(cancel.body).toMatchObject({ code: direct.code, detail: direct.message, status: 400 });

    // By plan name: its newest failover; the reprotect's resync is read back for a follower.
    const reprotect = await live.api('POST', `/plans/${a.plan.metadata.name}/reprotect`, who);
    expect(reprotect.status).toBe(200);
    expect(reprotect.body).toMatchObject({ failover: id, created: true });
    expect((await waitForStatus(live.engine.client, reprotect.body.id, ['completed', 'failed'])).status).toBe(
      'completed',
    );
    const state = await live.api('GET', `/executions/${reprotect.body.id}/lifecycle?resync=true`);
    expect(state.body).toMatchObject({ type: 'reprotect', reversed: true, run: { parent: id } });
    expect(state.body.resync.map((r: { health: string }) => r.health)).toEqual([
      'Normal',
      'Normal',
      'Normal',
    ]);

    const back = await live.api('POST', `/plans/${a.plan.metadata.name}/failback`, {
      by: who.by,
      plan: smallPlanText('la'),
    });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ failover: id, thenReprotect: true });
    expect(
      (await waitForStatus(live.engine.client, back.body.id, ['reprotected', 'reprotect-failed', 'failed']))
        .status,
    ).toBe('reprotected');
    const truth = live.engine.world.truth();
    expect(truth.splitBrain).toEqual([]);
    for (const vm of a.plan.vms) expect(truth.vms[vm.name]?.primarySites).toEqual([a.plan.source]);
    // Asked again: the engine's own refusal, with its code.
    const again = await live.api('POST', `/plans/${a.plan.metadata.name}/failback`, {
      by: who.by,
      plan: smallPlanText('la'),
    });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('NOT_REPROTECTED');
  });

  it('cancels a failover, and refuses a commit of a drill with what to do instead', async () => {
    const id = await failedOver(b);
    const cancel = await live.api('POST', `/executions/${id}/cancel`, { ...who, reason: 'wrong window' });
    expect(cancel.status).toBe(200);
    expect((await waitForStatus(live.engine.client, cancel.body.id, ['completed', 'failed'])).status).toBe(
      'completed',
    );
    expect((await live.engine.client.get(id)).status).toBe('cancelled');
    for (const vm of b.plan.vms)
      expect(live.engine.world.truth().vms[vm.name]?.primarySites).toEqual([b.plan.source]);

    const drill = await live.engine.client.submit({ type: 'test', ...b, reason: 'drill' });
    await waitForStatus(live.engine.client, drill.id, ['awaiting-cleanup', 'failed']);
    const commit = await live.api('POST', `/executions/${drill.id}/commit`, who);
    const direct = await refusal(
      submitCommit(live.engine.redis, live.engine.prefix, drill.id, live.engine.who),
    );
    expect(commit.status).toBe(400);
    expect(commit.body).toMatchObject({ code: 'NOT_A_FAILOVER', detail: direct.message });
    expect(commit.body.detail).toContain(`drctl cleanup ${drill.id}`);
    await live.engine.client.cleanup(drill.id, { reason: 'end drill' });
  });

  it('refuses an operation while the vault has no inventory of the sites, changing nothing', async () => {
    const inventory = live.control.ctx.inventory;
    live.control.ctx.inventory = undefined;
    try {
      const reply = await live.api('POST', '/executions/any-failover/commit', who);
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe('NO_INVENTORY');
      expect(reply.body.detail).toContain("once the sites' agents have reported their hosts");
    } finally {
      live.control.ctx.inventory = inventory;
    }
  });

  it('answers a body that does not match the schema with the field at fault', async () => {
    const reply = await live.api('POST', '/executions/x/change-point', {
      ...who,
      recoveryPoint: { kind: 'soon' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('BAD_REQUEST');
    expect(reply.body.issues.map((i: { path: string }) => i.path).join(' ')).toContain('body.recoveryPoint');
  });
});

describe('the operator and locks API', { timeout: 120_000 }, () => {
  it('marks a paused step done for the orchestrator to apply, with who and why', async () => {
    live.engine.world.fault({ kind: 'boot', vm: 'lp-app2', site: p.plan.target, mode: 'fail' });
    const { id } = await live.engine.client.submit({ type: 'planned', ...p, reason: 'api pause' });
    expect((await waitForStatus(live.engine.client, id, ['paused', 'completed', 'failed'])).status).toBe(
      'paused',
    );
    const step = encodeURIComponent('lp-app2/readiness');
    const done = await live.api('POST', `/executions/${id}/steps/${step}/done`, {
      by: 'alice',
      reason: 'restarted the app service by hand',
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      step: 'lp-app2/readiness',
      command: 'done',
      by: 'alice',
      applied: true,
      accepted: true,
    });
    expect((await waitForStatus(live.engine.client, id, ['completed', 'failed'])).status).toBe('completed');
  });

  it('takes a step id with its slash and refuses a settled execution as `drctl step` does', async () => {
    const id = settledFailover ?? (await failedOver(a));
    const step = encodeURIComponent(`${a.plan.vms[0]?.name}/failover`);
    const reply = await live.api('POST', `/executions/${id}/steps/${step}/retry`, { ...who, waitMs: 0 });
    expect(reply.status).toBe(400);
    // Decoded back to `la-db/failover` (a known step), so refused for the execution being settled.
    expect(reply.body.code).toBe('EXECUTION_SETTLED');
    const unknown = await live.api('POST', `/executions/no-such-run/steps/x/skip`, who);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('EXECUTION_NOT_FOUND');
  });

  it('shows every lock held and refuses a release that names nothing', async () => {
    const all = await live.api('GET', '/locks');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      plans: expect.any(Object),
      vms: expect.any(Object),
      failedOver: expect.any(Object),
    });
    const plan = await live.api('GET', `/locks?plan=${a.plan.metadata.name}&vms=la-db`);
    expect(plan.body).toMatchObject({ plan: null, vms: {} });
    const release = await live.api('POST', '/locks/release', {});
    expect(release.status).toBe(400);
    expect(release.body.code).toBe('LOCKS_NOTHING');
  });

  it('lists the lifecycle, operator and locks routes in the OpenAPI document', async () => {
    const doc = (await live.control.app.inject('/openapi.json')).json() as { paths: Record<string, object> };
    for (const path of [
      '/api/v1/executions/{id}/commit',
      '/api/v1/executions/{id}/cancel',
      '/api/v1/executions/{id}/change-point',
      '/api/v1/executions/{id}/reprotect',
      '/api/v1/executions/{id}/failback',
      '/api/v1/plans/{name}/reprotect',
      '/api/v1/plans/{name}/failback',
      '/api/v1/executions/{id}/lifecycle',
      '/api/v1/executions/{id}/steps/{step}/retry',
      '/api/v1/executions/{id}/steps/{step}/skip',
      '/api/v1/executions/{id}/steps/{step}/done',
      '/api/v1/locks',
      '/api/v1/locks/release',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
    expect(JSON.stringify(doc.paths['/api/v1/executions/{id}/commit'])).toContain('Problem');
  });
});
