/**
 * Automatic failover, the control side (issue 13), in a real control plane on a private Redis (AOF)
 * with a simulated world and dc-west's workers: dc-east's agent stops renewing its lease, the
 * witness agrees, the monitor declares it lost, and each plan of dc-east is decided as its policy
 * and its arming say: the armed one fails over under the system actor with its evidence; notify-only
 * notifies; beyond maxDataLoss is refused with its reason; a veto stops one; an unarmed plan is never
 * touched; maintenance mode suppresses all of it until it expires; one failover per plan until
 * re-armed; the site's return offers reprotect. The automation's drill runs a test failover.
 */
import type { Redis } from 'ioredis';
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_VERSION,
  type ControlPlane,
  controlRoutes,
  startControlPlane,
} from '../../engine/control/index.ts';
import { readEvents } from '../../engine/executor/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import { startPrivateRedis } from '../../engine/redis/private-server.ts';
import { worldForPlan } from '../../simulators/for-plan.ts';
import { silent, startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { bearer, tokenFor } from '../support/auth.ts';
import { type Receiver, startReceiver, until } from './notify-support.ts';

const SITE = 'dc-east';
const monitor = { leaseMs: 1500, suspectAfterMs: 500, marginMs: 500, witnessEveryMs: 300, tickMs: 50 };

const planText = (name: string, vm: string, auto: string) => `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: ${name} }
spec:
  source: dc-east
  target: dc-west
  targets: { rpo: 1h }
  vms:
    - { name: ${vm} }
  automaticFailover: { enabled: true, after: 30s${auto} }
`;
const PLANS = {
  main: planText('a-main', 'a-01', ''),
  notify: planText('b-notify', 'b-01', ', mode: notify-only'),
  loss: planText('c-loss', 'c-01', ', maxDataLoss: 1m'),
  veto: planText('d-veto', 'd-01', ', veto: 30s'),
  unarmed: planText('e-unarmed', 'e-01', ''),
  noGuard: planText('f-noguard', 'f-01', ''),
};
/** The hosts' guards the site's agent reports: every VM but f-01 (its host's guard fails). */
const GUARDS = [
  { host: 'dc-east-h1', armed: true, vms: ['a-01', 'b-01', 'c-01', 'd-01', 'e-01'] },
  { host: 'dc-east-h2', armed: false, vms: [], lastError: 'INVALID_STATE: the guard fired; arm it again' },
];
const WORLD = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: world }
spec:
  source: dc-east
  target: dc-west
  vms: [{ name: a-01 }, { name: b-01 }, { name: c-01 }, { name: d-01 }, { name: e-01 }, { name: f-01 }]
`;

type Status = {
  plans: {
    plan: string;
    armed: boolean;
    arm?: { spent?: { execution: string } };
    decision?: { state: string; reason?: string; execution?: string; vetoedBy?: string };
    reprotectOffered?: string;
  }[];
  maintenance: { site: string }[];
  durability: { ok: boolean; how?: string };
};

describe('automatic failover when a site is lost', { timeout: 240_000 }, () => {
  let redisServer: Awaited<ReturnType<typeof startPrivateRedis>>;
  let redis: Redis;
  let engine: TestEngine;
  let control: ControlPlane;
  let admin: string;
  let operator: string;
  let session: string;
  let beating: NodeJS.Timeout | undefined;
  let receiver: Receiver;
  /** The drill's epoch: its test VM at dc-west reports it. */
  let drillEpoch = 0;

  const call = async (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
    const reply = await control.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: reply.statusCode, body: reply.json() as Record<string, unknown> };
  };
  const status = async (): Promise<Status> => (await call(admin, 'GET', '/auto')).body as unknown as Status;
  const planStatus = async (plan: string) => (await status()).plans.find((p) => p.plan === plan);
  const waitDecision = async (plan: string, state: string, ms = 15_000): Promise<void> =>
    await until(async () => (await planStatus(plan))?.decision?.state === state, ms).catch(async () => {
      throw new Error(`${plan} not ${state}: ${JSON.stringify(await planStatus(plan))}`);
    });
  const leaseState = () => control.monitor.snapshots().get(SITE)?.state;
  const startBeating = (): void => {
    clearInterval(beating);
    beating = setInterval(() => {
      void control.app.inject({
        method: 'POST',
        url: `/api/v1/agents/${SITE}/heartbeat`,
        payload: { session, running: [] },
      });
      void control.app.inject({
        method: 'POST',
        url: `/api/v1/agents/${SITE}/contact`,
        payload: { session, guards: GUARDS },
      });
    }, 100);
  };
  const stopBeating = (): void => clearInterval(beating);

  beforeAll(async () => {
    redisServer = await startPrivateRedis({ appendOnly: true });
    redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
    const world = parsePlan(WORLD, 'world.yaml');
    if (!world.ok) throw new Error(world.issues.map((i) => i.message).join('; '));
    engine = await startTestEngine(world.plan, {
      redisUrl: redisServer.url,
      orchestrator: false,
      // dc-east is the site that is lost: no workers of it run.
      workerSites: ['dc-west', 'control'],
      // 20×: boots take seconds, and the hosts' clock stays close enough to the monitor's that the
      // data-loss window (counted on the hosts' clock from the last renewal) means what it says.
      world: worldForPlan(world.plan, { clock: { mode: 'scaled', speed: 20 }, warmupMs: 5 * 3_600_000 }),
    });
    receiver = await startReceiver();
    control = await startControlPlane({
      redisUrl: redisServer.url,
      prefix: engine.prefix,
      port: 0,
      routes: controlRoutes,
      inventory: engine.world.api,
      leaseMs: 2000,
      logger: silent,
      notifications: { retry: { initialDelayMs: 100, maxDelayMs: 500, giveUpAfterMs: 5_000 } },
      siteMonitor: {
        ...monitor,
        witness: async (site) => ({
          verdict: 'unreachable',
          by: 'peer',
          detail: `dc-west's probe of ${site}'s agent and hosts: connection refused`,
        }),
      },
    });
    admin = await tokenFor(control, 'admin', { owner: 'alice' });
    operator = await tokenFor(control, 'operator', { owner: 'olga' });
    const hello = await control.app.inject({
      method: 'POST',
      url: `/api/v1/agents/${SITE}/hello`,
      payload: {
        site: SITE,
        agentId: `agent-${SITE}`,
        version: CONTROL_VERSION,
        scriptCatalog: { scripts: {} },
      },
    });
    expect(hello.statusCode, hello.body).toBe(200);
    session = hello.json().session;
    // Renewing from the start: a session not heard from for its TTL ends.
    startBeating();
    for (const [key, text] of Object.entries(PLANS)) {
      const up = await call(admin, 'POST', '/plans', { file: `${key}.yaml`, text });
      expect(up.status, JSON.stringify(up.body)).toBeLessThan(300);
    }
    const sub = await call(admin, 'POST', '/notifications', {
      url: receiver.url,
      events: [
        'auto-failover.armed',
        'auto-failover.vetoed',
        'auto-failover.started',
        'auto-failover.finished',
        'auto-failover.refused',
      ],
    });
    expect(sub.status).toBe(201);
    // c-01's replication stops: its newest recovery point at dc-west only gets older.
    await engine.world.api.suspendVMReplication({ site: 'dc-east', vm: 'c-01', epoch: 1 });
  }, 60_000);
  afterAll(async () => {
    stopBeating();
    await control?.close(5000);
    await engine?.close();
    await receiver?.close();
    redis?.disconnect();
    await redisServer?.stop();
  });

  it('refuses to arm on a Redis 7.0 that fsyncs every second (no WAITAOF), naming the setting', async () => {
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '';
    if (!version.startsWith('7.0') && !version.startsWith('7.1') && !version.startsWith('6')) return;
    const armed = await call(admin, 'POST', '/auto/plans/a-main/arm');
    expect(armed.status).toBe(409);
    expect(armed.body).toMatchObject({ code: 'REDIS_NOT_DURABLE' });
    expect(String(armed.body.detail)).toContain('appendfsync always');
    await redis.config('SET', 'appendfsync', 'always');
  });

  it('arms as an admin only, never a plan that does not allow it', async () => {
    await redis.config('SET', 'appendfsync', 'always');
    expect((await call(operator, 'POST', '/auto/plans/a-main/arm')).status).toBe(403);
    for (const plan of ['a-main', 'b-notify', 'c-loss', 'd-veto', 'f-noguard']) {
      const armed = await call(admin, 'POST', `/auto/plans/${plan}/arm`);
      expect(armed.status, JSON.stringify(armed.body)).toBe(200);
      expect(armed.body).toMatchObject({ plan, site: SITE, armedBy: 'alice' });
    }
    const listed = await status();
    expect(listed.durability.ok).toBe(true);
    expect(listed.plans.find((p) => p.plan === 'a-main')?.armed).toBe(true);
    expect(listed.plans.find((p) => p.plan === 'e-unarmed')?.armed).toBe(false);
  });

  it("drills the automation: the plan's source declared lost on purpose, a test failover", async () => {
    expect((await call(operator, 'POST', '/auto/plans/e-unarmed/drill')).status).toBe(403);
    const drill = await call(admin, 'POST', '/auto/plans/e-unarmed/drill');
    expect(drill.status, JSON.stringify(drill.body)).toBe(200);
    expect(drill.body).toMatchObject({ plan: 'e-unarmed', decision: 'submitted' });
    const id = String(drill.body.execution);
    const done = await waitForStatus(engine.client, id, ['awaiting-cleanup', 'failed'], 90_000);
    expect(done.status).toBe('awaiting-cleanup');
    expect(done.type).toBe('test');
    expect(done.automatic).toMatchObject({ site: SITE, drill: true, fencedByLease: false });
    drillEpoch = done.epoch;
    expect(drillEpoch, JSON.stringify(done)).toBeGreaterThan(0);
    // Its own record, apart from the plan's real decisions; nothing armed or spent by it.
    const e = await planStatus('e-unarmed');
    expect(e?.decision).toBeUndefined();
    expect(e?.armed).toBe(false);
  });

  it('does nothing while the site is in maintenance, and the maintenance expires by itself', async () => {
    startBeating();
    await until(() => leaseState() === 'online', 10_000);
    expect((await call(operator, 'POST', `/sites/${SITE}/maintenance`, { for: '8s' })).status).toBe(403);
    const set = await call(admin, 'POST', `/sites/${SITE}/maintenance`, { for: '8s' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect((await status()).maintenance.map((m) => m.site)).toEqual([SITE]);
    stopBeating();
    await until(async () => (await planStatus('a-main'))?.decision?.state === 'notified', 15_000);
    expect((await planStatus('a-main'))?.decision?.reason).toContain('maintenance');
    expect((await planStatus('a-main'))?.arm?.spent).toBeUndefined();
    // Heard from again before anything started: it was not lost after all.
    startBeating();
    await until(() => leaseState() === 'online', 10_000);
    await until(async () => (await status()).maintenance.length === 0, 15_000);
  });

  it('fails the armed plan over under the system actor with its evidence; notify-only notifies, beyond maxDataLoss is refused, a veto stops one, an unarmed plan is left alone', async () => {
    // Redis lost its last writes: the epoch counter is back at 0, below what dc-west's hosts accepted.
    await redis.set(`${engine.prefix}:epoch`, '0');
    // dc-east loses power: its agent and its hosts go silent together.
    engine.world.fault({ kind: 'site-power', site: SITE, state: 'off' });
    stopBeating();
    await waitDecision('d-veto', 'veto-window');
    const vetoed = await call(operator, 'POST', '/auto/plans/d-veto/veto', { reason: 'the DBA is on it' });
    expect(vetoed.status, JSON.stringify(vetoed.body)).toBe(200);
    expect((await planStatus('b-notify'))?.decision).toMatchObject({
      state: 'notified',
      reason: 'mode notify-only',
    });
    const refused = (await planStatus('c-loss'))?.decision;
    expect(refused?.state).toBe('refused');
    expect(refused?.reason).toContain('beyond maxDataLoss');
    // f-01's host guard was not known to work: never failed over automatically, a person is told.
    const unguarded = (await planStatus('f-noguard'))?.decision;
    expect(unguarded?.state, JSON.stringify(unguarded)).toBe('refused');
    expect(unguarded?.reason).toContain('no working guard');
    expect(unguarded?.reason).toContain('f-01');
    await until(
      () =>
        receiver.received.some((r) => {
          const body = JSON.parse(r.body);
          return body.type === 'auto-failover.refused' && JSON.stringify(body).includes('NO_WORKING_GUARD');
        }),
      15_000,
    );
    // a-main waits out `after` (30 s from the last renewal), then is submitted.
    await until(async () => (await planStatus('a-main'))?.decision?.state !== 'veto-window', 60_000);
    const main = await planStatus('a-main');
    expect(main?.decision?.state, JSON.stringify(main)).toBe('submitted');
    const id = main?.decision?.execution ?? '';
    expect(main?.arm?.spent?.execution).toBe(id);
    expect((await planStatus('d-veto'))?.decision).toMatchObject({ state: 'vetoed', vetoedBy: 'olga' });
    expect((await planStatus('e-unarmed'))?.decision).toBeUndefined();

    const done = await waitForStatus(engine.client, id, ['completed', 'failed'], 90_000);
    const why = (await readEvents(redis, engine.prefix, id))
      .map((e) => e.event)
      .filter((e) => e.type === 'step-finished' && e.outcome !== 'done');
    expect(done.status, JSON.stringify(why)).toBe('completed');
    expect(done.by).toBe('system');
    expect(done.type).toBe('unplanned');
    expect(done.automatic).toMatchObject({ site: SITE, drill: false, fencedByLease: true });
    expect(done.automatic?.witness).toMatchObject({ verdict: 'unreachable', by: 'peer' });
    expect(done.automatic?.renewals.length, JSON.stringify(done.automatic)).toBeGreaterThan(0);
    const events = (await readEvents(redis, engine.prefix, id)).map((e) => e.event);
    expect(events[0]?.type).toBe('execution-submitted');
    expect(events[1]).toMatchObject({ type: 'automatic-failover', site: SITE });
    const fence = events.find((e) => e.type === 'step-finished' && e.step === 'a-01/fence');
    expect(fence).toMatchObject({ outcome: 'done', output: { fenced: true, by: 'lease' } });
    // The epoch is above every epoch a host reported (the drill's test VM at dc-west).
    expect(drillEpoch, `drill epoch ${drillEpoch}, this one ${done.epoch}`).toBeGreaterThan(0);
    expect(done.epoch).toBeGreaterThan(drillEpoch);
    // Nothing else of dc-east's plans failed over.
    const executions = await engine.client.list({ limit: 50 });
    expect(executions.filter((e) => e.type === 'unplanned').map((e) => e.planName)).toEqual(['a-main']);

    const audit = await call(admin, 'GET', '/audit');
    const entries = audit.body.entries as {
      actor: string;
      action: string;
      execution?: string;
      detail?: string;
    }[];
    const submitted = entries.find((e) => e.action === 'automatic-failover:submitted' && e.execution === id);
    expect(submitted).toMatchObject({ actor: 'system', execution: id });
    expect(submitted?.detail).toContain('renewals');
    // d-veto's window closes beside a-main's, and its decision goes on record in its own time: the
    // run's end above orders nothing between them.
    const vetoedOnRecord = async (): Promise<boolean> =>
      ((await call(admin, 'GET', '/audit')).body.entries as { actor: string; action: string }[]).some(
        (e) => e.action === 'automatic-failover:vetoed' && e.actor === 'system',
      );
    await until(vetoedOnRecord, 30_000);

    await until(
      () => receiver.received.some((r) => JSON.parse(r.body).type === 'auto-failover.finished'),
      30_000,
    );
    const types = receiver.received.map((r) => JSON.parse(r.body).type as string);
    for (const type of ['armed', 'vetoed', 'started', 'finished', 'refused'])
      expect(types, types.join(',')).toContain(`auto-failover.${type}`);
  });

  it('fails a plan over once until re-armed, and offers reprotect when the site returns', async () => {
    const snapshot = control.monitor.snapshots().get(SITE);
    if (snapshot === undefined) throw new Error('no snapshot');
    // The test hook: the site declared lost again.
    const declared = control.ctx.automation?.onSiteLost({
      site: SITE,
      snapshot: {
        ...snapshot,
        context: { ...snapshot.context, last: undefined, lostAt: control.monitor.now() },
      },
      now: control.monitor.now(),
    });
    // A new loss for d-veto (armed, not spent): vetoed again in its window.
    await waitDecision('d-veto', 'veto-window');
    expect((await call(operator, 'POST', '/auto/plans/d-veto/veto', { reason: 'again' })).status).toBe(200);
    const again = await declared;
    expect(again?.find((o) => o.plan === 'd-veto')?.decision).toBe('vetoed');
    const main = again?.find((o) => o.plan === 'a-main');
    expect(main?.decision).toBe('notified');
    expect(main?.reason).toContain('already failed over automatically once');
    expect(
      (await engine.client.list({ limit: 50 })).filter((e) => e.type === 'unplanned').map((e) => e.planName),
    ).toEqual(['a-main']);
    engine.world.fault({ kind: 'site-power', site: SITE, state: 'on' });
    startBeating();
    await until(() => leaseState() === 'returned', 10_000);
    await until(async () => (await planStatus('a-main'))?.reprotectOffered !== undefined, 10_000);
    expect((await planStatus('a-main'))?.reprotectOffered).toMatch(/^drctl reprotect unplanned-/);
    // Never started by itself.
    expect((await engine.client.list({ limit: 50 })).map((e) => e.type).sort()).toEqual([
      'test',
      'unplanned',
    ]);
    const rearmed = await call(admin, 'POST', '/auto/plans/a-main/arm');
    expect(rearmed.status).toBe(200);
    expect((await planStatus('a-main'))?.armed).toBe(true);
  });
});
