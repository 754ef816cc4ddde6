/**
 * The hosts' guards (issue 13) with a real `drctl agent` process: a control plane on a private
 * Redis (AOF, fsync always: arming needs it), a simulated world served over HTTP at 4× (the guard's
 * timeout is on the hosts' clock), and dc-east's agent with its site lease on. Arming the plan's
 * automatic failover arms dc-east's host guards with the plan's VMs; disarming disarms them; an agent
 * that renews keeps the VMs running; the agent killed (SIGKILL) → the guard fires within its timeout
 * and the simulator's ledger shows the armed primaries off (judged by the simulator, not told by
 * the engine); a paused agent (SIGSTOP past its lease) renews nothing on its old lease: the guards
 * fire, and once woken it arms them again after a fresh renewal (the VMs stay off).
 */
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardReport } from '../../engine/control/auto/guards.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import { startPrivateRedis } from '../../engine/redis/private-server.ts';
import { worldForPlan } from '../../simulators/for-plan.ts';
import { type SimServer, startSimServer, type World } from '../../simulators/index.ts';
import { type EngineProcess, spawnDrctl } from '../engine/processes.ts';
import { silent } from '../engine/support.ts';
import { bearer, tokenFor } from '../support/auth.ts';

const SITE = 'dc-east';
const PLAN = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: guarded }
spec:
  source: dc-east
  target: dc-west
  targets: { rpo: 1h }
  vms: [{ name: g-01 }, { name: g-02 }]
  automaticFailover: { enabled: true, after: 30s }
`;
const LEASE_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
};

describe('host guards renewed by a real agent', { timeout: 120_000 }, () => {
  let redisServer: Awaited<ReturnType<typeof startPrivateRedis>>;
  let redis: IORedis;
  let world: World;
  let sim: SimServer;
  let control: ControlPlane;
  let admin: string;
  let agent: EngineProcess | undefined;
  const prefix = `guard-${process.pid}`;

  const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const reply = await control.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(admin),
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: reply.statusCode, body: reply.json() as Record<string, unknown> };
  };
  /** The guards of dc-east's hosts that hold the plan's VMs, as the simulator has them. */
  const guards = async () => {
    const hosts = [...new Set((await world.api.listVMs(SITE)).map((vm) => vm.host))].sort();
    return await Promise.all(hosts.map((host) => world.api.guardStatus(SITE, host)));
  };
  const armedVms = async () =>
    (await guards())
      .filter((g) => g.armed)
      .flatMap((g) => g.vms)
      .sort();
  const running = async () =>
    (await world.api.listVMs(SITE))
      .filter((vm) => vm.replication?.mode === 'Primary' && vm.state === 'Running')
      .map((vm) => vm.name)
      .sort();

  const startAgentProcess = async (): Promise<EngineProcess> => {
    const child = spawnDrctl(
      [
        'agent',
        '--site',
        SITE,
        '--hosts',
        sim.url,
        '--server',
        control.url,
        '--heartbeat-ms',
        '500',
        '--fence-sweep-ms',
        '0',
        '--peer-listen',
        '127.0.0.1:0',
        '--replace',
      ],
      { REDIS_URL: '' },
    );
    const deadline = Date.now() + 20_000;
    while (!child.output().includes('"ready":true')) {
      if (Date.now() > deadline || child.child.exitCode !== null)
        throw new Error(`drctl agent did not start:\n${child.output()}`);
      await sleep(50);
    }
    return child;
  };

  beforeAll(async () => {
    redisServer = await startPrivateRedis({ appendOnly: true });
    redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
    await redis.config('SET', 'appendfsync', 'always');
    const parsed = parsePlan(PLAN, 'guarded.yaml');
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
    world = worldForPlan(parsed.plan, { clock: { mode: 'scaled', speed: 4 } });
    world.start();
    sim = await startSimServer(world.api, { port: 0 });
    control = await startControlPlane({
      redisUrl: redisServer.url,
      prefix,
      port: 0,
      routes: controlRoutes,
      inventory: world.api,
      logger: silent,
      siteMonitor: {
        leaseMs: LEASE_MS,
        suspectAfterMs: 1000,
        marginMs: 1000,
        witnessEveryMs: 300,
        tickMs: 50,
      },
    });
    admin = await tokenFor(control, 'admin', { owner: 'alice' });
    const up = await call('POST', '/plans', { file: 'guarded.yaml', text: PLAN });
    expect(up.status, JSON.stringify(up.body)).toBeLessThan(300);
    agent = await startAgentProcess();
  }, 60_000);
  afterAll(async () => {
    agent?.child.kill('SIGKILL');
    await control?.close(3000);
    await sim?.close();
    world?.close();
    redis?.disconnect();
    await redisServer?.stop();
  });

  it('arms the guards with the armed VMs, renews them, and disarms them with the plan', async () => {
    await sleep(1500);
    expect(await armedVms()).toEqual([]);
    expect((await call('POST', '/auto/plans/guarded/arm')).status).toBe(200);
    await until('the guards armed with g-01, g-02', async () => (await armedVms()).join() === 'g-01,g-02');
    // Renewed every beat: the VMs keep running past several timeouts.
    const timeoutMs = Math.max(...(await guards()).map((g) => g.timeoutMs));
    await sleep(3 * (timeoutMs / 4));
    expect(await running(), JSON.stringify(world.truth().guardFirings)).toEqual(['g-01', 'g-02']);
    expect(world.truth().guardFirings).toEqual([]);
    // The control plane knows the guard works (the agent's report).
    const report = await guardReport(redis, prefix, SITE);
    expect(report?.armedVms).toEqual(['g-01', 'g-02']);
    expect(
      report?.hosts
        ?.filter((h) => h.armed)
        .flatMap((h) => h.vms)
        .sort(),
    ).toEqual(['g-01', 'g-02']);
    expect(report?.hosts?.every((h) => h.lastError === undefined)).toBe(true);
    // Disarmed: the guards follow.
    expect((await call('POST', '/auto/plans/guarded/disarm')).status).toBe(200);
    await until('the guards disarmed', async () => (await armedVms()).length === 0);
    expect((await call('POST', '/auto/plans/guarded/arm')).status).toBe(200);
    await until('the guards armed again', async () => (await armedVms()).join() === 'g-01,g-02');
  });

  it('the agent killed: the guards fire within their timeout and the armed primaries are off', async () => {
    const before = await guards();
    const timeoutMs = Math.max(...before.map((g) => g.timeoutMs));
    expect(await running()).toEqual(['g-01', 'g-02']);
    agent?.child.kill('SIGKILL');
    const killedAt = Date.now();
    await until('the guards fired', async () => world.truth().guardFirings.length > 0, 15_000);
    await until('every armed host fired', async () =>
      (await guards()).filter((g) => g.vms.length > 0).every((g) => g.fired !== undefined),
    );
    // Within the timeout (host clock 4×, so timeoutMs / 4 real ms) of the last renewal.
    expect(Date.now() - killedAt).toBeLessThan(timeoutMs / 4 + 5_000);
    for (const g of await guards()) {
      if (g.fired === undefined) continue;
      expect(Date.parse(g.fired.at) - Date.parse(g.lastRenewal ?? '')).toBe(g.timeoutMs);
    }
    const truth = world.truth();
    expect(truth.guardFirings.flatMap((f) => f.vms).sort()).toEqual(['g-01', 'g-02']);
    expect(truth.vms['g-01']?.primarySites).toEqual([]);
    expect(truth.vms['g-02']?.primarySites).toEqual([]);
    expect(await running()).toEqual([]);
  });

  it('a paused agent (SIGSTOP past its lease) renews nothing on its old lease: the guards fire, and it arms them again only after a fresh renewal', async () => {
    agent = await startAgentProcess();
    for (const name of ['g-01', 'g-02']) {
      const vm = await world.api.getVM(SITE, name);
      await world.api.startVM({ site: SITE, vm: name, epoch: vm.epoch });
    }
    await until('g-01, g-02 running again', async () => (await running()).join() === 'g-01,g-02', 30_000);
    await until('the new agent armed the guards', async () =>
      (await guards()).some((g) => g.armed && g.fired === undefined && g.vms.length > 0),
    );
    const firings = world.truth().guardFirings.length;
    const timeoutMs = Math.max(...(await guards()).map((g) => g.timeoutMs));
    agent.child.kill('SIGSTOP');
    await sleep(timeoutMs / 4 + LEASE_MS);
    expect(world.truth().guardFirings.length).toBeGreaterThan(firings);
    expect(await running()).toEqual([]);
    agent.child.kill('SIGCONT');
    // Woken: the host refused the renewal of the fired guard and the agent armed it again after a
    // fresh renewal; the VMs the guard turned off stay off (the guard never starts anything).
    await until('re-armed after the wake', async () =>
      (await guards()).filter((g) => g.vms.length > 0).every((g) => g.armed && g.fired === undefined),
    );
    expect(await running()).toEqual([]);
    await until('the control plane told the guard works again', async () => {
      const report = await guardReport(redis, prefix, SITE);
      const held = report?.hosts?.filter((h) => h.armed && h.lastError === undefined).flatMap((h) => h.vms);
      return held?.sort().join() === 'g-01,g-02';
    });
  });
});
