/**
 * The site lease in real processes (issue 13): a `drctl serve` control plane (lease 3 s, heartbeat
 * 0.5 s, margin 1 s), a `drctl sim serve` for the hosts, and one `drctl agent --failsafe` per site
 * with a peer listener, on the run's Redis. Every link goes through a TCP proxy on loopback the
 * test cuts: each agent's link to the control plane, each agent's peer listener (the other site's
 * only way to it), and each site's host endpoint (a TCP listener standing for the hosts'
 * management port, what the witness connects to).
 *
 * - the control-plane link of one site cut: its renewals arrive relayed by the peer site; the
 *   site stays online, nobody fences;
 * - the control plane cut off from both sites, who still see each other: both leases run out at
 *   the monitor, nobody witnesses, nothing is lost; and nobody fences;
 * - a relayed renewal replayed or altered: not counted;
 * - a paused agent wakes, renews before acting, fences nothing; a dead agent on a healthy site is
 *   isolated, never lost;
 * - a site that reaches only the arbiter (`drctl arbiter`, a third process): it holds, and the
 *   monitor does not declare it lost on the peer's word, since the arbiter heard it;
 * - a site cut off from everything while it runs: its agent fences it (its primaries off, by the
 *   simulator's truth) and the monitor declares it lost once the peer's witness and the arbiter agree.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readSiteLeases } from '../../engine/control/monitor/index.ts';
import { createRegistrationKey, initVault, vaultFingerprint } from '../../engine/control/vault/index.ts';
import { createSimClient, type SimClient } from '../../simulators/index.ts';
import { startProxy, type TcpProxy } from '../cloud/proxy.ts';
import { type EngineProcess, spawnDrctl } from '../engine/processes.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const PLAN = 'plans/examples/three-tier.yaml';
const EAST = 'dc-east';
const WEST = 'dc-west';
const SITES = [EAST, WEST] as const;
const LEASE_MS = 3000;

function firstJson(process: EngineProcess): Record<string, unknown> {
  const line = process
    .output()
    .split('\n')
    .find((l) => l.startsWith('{"'));
  return JSON.parse(line ?? '{}') as Record<string, unknown>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const portOf = (url: string): number => Number(new URL(url).port);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SiteRig {
  control: TcpProxy;
  arbiter: TcpProxy;
  peer: TcpProxy;
  hosts: TcpProxy;
  agent?: EngineProcess;
}

describe('the site lease across real processes', { timeout: 180_000 }, () => {
  const prefix = uniquePrefix('site-lease');
  const redisUrl = testRedisUrl();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const vaultDir = mkdtempSync(join(tmpdir(), 'drorch-lease-vault-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'drorch-lease-agents-'));
  const children: EngineProcess[] = [];
  const hostPorts: Server[] = [];
  const rigs = new Map<string, SiteRig>();
  let sim: SimClient;
  let simUrl = '';
  /** Every lease state the monitor wrote, sampled every 100 ms for the whole run. */
  const seen = new Map<string, string[]>();
  let sampling: NodeJS.Timeout | undefined;

  const listenOf = new Map<string, number>();
  /** Start (or start again) a site's agent with every link through its proxies. */
  const startAgent = async (site: string, extra: string[] = []): Promise<EngineProcess> => {
    const other = site === EAST ? WEST : EAST;
    const agent = spawnDrctl(
      [
        'agent',
        '--site',
        site,
        '--hosts',
        simUrl,
        '--server',
        rig(site).control.url,
        '--state-dir',
        stateDir,
        '--heartbeat-ms',
        '500',
        '--fence-sweep-ms',
        '0',
        '--shutdown-timeout-ms',
        '1000',
        '--peer-listen',
        `127.0.0.1:${listenOf.get(site)}`,
        '--peer-advertise',
        rig(site).peer.url,
        '--peer',
        rig(other).peer.url,
        '--arbiter',
        rig(site).arbiter.url,
        '--host-endpoint',
        `127.0.0.1:${portOf(rig(site).hosts.url)}`,
        '--failsafe',
        '--site-lease-ms',
        String(LEASE_MS),
        '--fence-time-ms',
        '1000',
        ...extra,
      ],
      { REDIS_URL: '', LOG_LEVEL: 'info' },
    );
    children.push(agent);
    const deadline = Date.now() + 20_000;
    while (!agent.output().includes('"ready":true')) {
      if (Date.now() > deadline || agent.child.exitCode !== null)
        throw new Error(`drctl agent did not start:\n${agent.output()}`);
      await sleep(50);
    }
    rig(site).agent = agent;
    return agent;
  };
  const rig = (site: string): SiteRig => {
    const found = rigs.get(site);
    if (found === undefined) throw new Error(`no rig for ${site}`);
    return found;
  };
  const states = async (): Promise<Record<string, string>> =>
    Object.fromEntries([...(await readSiteLeases(redis, prefix))].map(([site, view]) => [site, view.state]));
  const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`not within ${ms} ms: ${what} (leases ${JSON.stringify(await states())})`);
      await sleep(100);
    }
  };
  const since = (site: string, from: number): string[] => (seen.get(site) ?? []).slice(from);
  const fenced = (site: string): boolean =>
    (rig(site).agent?.output() ?? '').includes('site fenced by its agent');
  const running = async (site: string): Promise<string[]> =>
    (await sim.listVMs(site))
      .filter((vm) => vm.replication?.mode === 'Primary' && vm.state === 'Running' && !vm.isTest)
      .map((vm) => vm.name)
      .sort();

  beforeAll(async () => {
    const simChild = spawnDrctl(
      ['sim', 'serve', '--for-plan', PLAN, '--clock', 'scaled', '--speed', '100'],
      {},
    );
    children.push(simChild);
    await simChild.ready;
    simUrl = String(firstJson(simChild).url);
    sim = createSimClient(simUrl);
    await initVault({ redis, prefix, dir: vaultDir });
    const arbiterChild = spawnDrctl(['arbiter', '--port', '0', '--vault-ca', join(vaultDir, 'ca.pem')], {});
    children.push(arbiterChild);
    await arbiterChild.ready;
    const arbiterUrl = String(firstJson(arbiterChild).arbiter);
    const serve = spawnDrctl(
      [
        'serve',
        '--port',
        '0',
        '--prefix',
        prefix,
        '--vault-dir',
        vaultDir,
        '--site-lease-ms',
        String(LEASE_MS),
        '--site-margin-ms',
        '1000',
        '--heartbeat-ms',
        '500',
        '--shutdown-timeout-ms',
        '2000',
        '--arbiter',
        arbiterUrl,
      ],
      { REDIS_URL: redisUrl },
    );
    children.push(serve);
    await serve.ready;
    const api = firstJson(serve).api;
    if (typeof api !== 'string') throw new Error(`drctl serve did not start:\n${serve.output()}`);

    // Each site: its link to the control plane, its peer listener and its hosts, each behind a proxy.
    const listens = new Map<string, number>();
    for (const site of SITES) {
      const hostPort = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => hostPort.listen(0, '127.0.0.1', resolve));
      hostPorts.push(hostPort);
      const address = hostPort.address();
      const listen = await freePort();
      listens.set(site, listen);
      rigs.set(site, {
        control: await startProxy(api),
        arbiter: await startProxy(arbiterUrl),
        peer: await startProxy(`http://127.0.0.1:${listen}`),
        hosts: await startProxy(
          `tcp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
        ),
      });
    }
    for (const site of SITES) {
      const { key } = await createRegistrationKey(redis, prefix, site, await vaultFingerprint(redis, prefix));
      listenOf.set(site, listens.get(site) ?? 0);
      await startAgent(site, ['--register', key]);
    }
    sampling = setInterval(() => {
      void states().then((now) => {
        for (const [site, state] of Object.entries(now)) seen.set(site, [...(seen.get(site) ?? []), state]);
      });
    }, 100);
    await until('both sites online', async () => {
      const now = await states();
      return now[EAST] === 'online' && now[WEST] === 'online';
    });
  }, 90_000);

  // A failed case leaves no link cut for the next one.
  afterEach(() => {
    for (const r of rigs.values())
      for (const proxy of [r.control, r.arbiter, r.peer, r.hosts]) proxy.restore();
  });

  afterAll(async () => {
    clearInterval(sampling);
    if (process.env.SITE_LEASE_DUMP)
      for (const [i, child] of children.entries())
        writeFileSync(join(process.env.SITE_LEASE_DUMP, `child-${i}.log`), child.output());
    await Promise.all(children.map((child) => child.kill('SIGTERM')));
    for (const r of rigs.values())
      await Promise.all([r.control.close(), r.arbiter.close(), r.peer.close(), r.hosts.close()]);
    for (const server of hostPorts) server.close();
    sim?.close();
    redis.disconnect();
    rmSync(vaultDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a cut control-plane link of one site changes nothing: renewals come relayed, nobody fences', async () => {
    const before = await running(EAST);
    expect(before.length).toBeGreaterThan(0);
    const from = seen.get(EAST)?.length ?? 0;
    rig(EAST).control.cut('reset');
    // Three leases without a direct renewal from dc-east.
    await sleep(3 * LEASE_MS);
    const during = since(EAST, from);
    expect(during.length).toBeGreaterThan(20);
    // Online throughout (suspect at worst, when the machine is loaded): never expired, never lost.
    expect(during).toContain('online');
    for (const state of during) expect(['online', 'suspect']).toContain(state);
    expect(fenced(EAST)).toBe(false);
    expect(await running(EAST)).toEqual(before);
    rig(EAST).control.restore();
    // What the monitor counted came through the peer.
    const relayed = Number(await redis.hget(`${prefix}:{agent:${EAST}}:session`, 'relayed'));
    expect(relayed).toBeGreaterThan(3 * (LEASE_MS / 500) * 0.5);
  });

  it('a relayed renewal replayed or altered is not counted: the peer carries only what verifies, the control plane only what is new', async () => {
    // What dc-east sent dc-west's listener, as the proxy in between kept it.
    const sent = rig(WEST)
      .peer.toServer()
      .map((b) => b.toString('utf8'))
      .join('');
    const bodies = sent
      .split('POST /relay HTTP/1.1')
      .slice(1)
      .flatMap((request) => {
        const split = request.indexOf('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(request.slice(0, split))?.[1]);
        const body = request.slice(split + 4, split + 4 + length);
        return body.length === length ? [body] : [];
      });
    expect(bodies.length).toBeGreaterThan(5);
    const listener = `http://127.0.0.1:${listenOf.get(WEST)}/relay`;
    const post = (body: string) =>
      fetch(listener, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const replayed = await post(bodies.at(-2) ?? '');
    expect(replayed.status).toBe(200);
    expect(await replayed.json()).toEqual({ heard: true, relayed: false });
    const altered = JSON.parse(bodies.at(-1) ?? '{}');
    altered.body.renewal += 1;
    expect((await post(JSON.stringify(altered))).status).toBe(403);
  });

  it('the control plane cut off from both sites, who see each other: nothing is lost, nobody fences', async () => {
    const before = { east: await running(EAST), west: await running(WEST) };
    const from = { east: seen.get(EAST)?.length ?? 0, west: seen.get(WEST)?.length ?? 0 };
    rig(EAST).control.cut('reset');
    rig(WEST).control.cut('reset');
    await sleep(3 * LEASE_MS);
    // The monitor's count runs out (no renewal reaches it on any path); no peer can witness, and
    // the arbiter, which hears both, says they are there: isolated at most, never lost.
    const east = since(EAST, from.east);
    expect(east).toContain('expired');
    for (const state of [...east, ...since(WEST, from.west)])
      expect(['online', 'suspect', 'expired', 'isolated']).toContain(state);
    expect(fenced(EAST) || fenced(WEST)).toBe(false);
    expect({ east: await running(EAST), west: await running(WEST) }).toEqual(before);
    rig(EAST).control.restore();
    rig(WEST).control.restore();
    await until('both sites online again', async () => {
      const now = await states();
      return now[EAST] === 'online' && now[WEST] === 'online';
    });
  });

  it('a paused agent (SIGSTOP past its lease) wakes, renews before acting and fences nothing; its site is not lost', async () => {
    const before = await running(EAST);
    const from = seen.get(EAST)?.length ?? 0;
    const agent = rig(EAST).agent;
    agent?.child.kill('SIGSTOP');
    await sleep(LEASE_MS + 2000);
    // Paused until the monitor has seen the lease run out and the witness reach dc-east's hosts (on a
    // loaded machine the monitor's view may lag the pause's 5 s).
    await until('dc-east isolated while paused', async () => (await states())[EAST] === 'isolated', 30_000);
    agent?.child.kill('SIGCONT');
    await until('dc-east online again', async () => (await states())[EAST] === 'online');
    await sleep(1000);
    expect(agent?.output()).toContain('woke past the lease; renewing before acting');
    expect(fenced(EAST)).toBe(false);
    expect(await running(EAST)).toEqual(before);
    // The monitor saw the lease run out; the witness still reached dc-east's hosts: never lost.
    const during = since(EAST, from);
    expect(during).toContain('isolated');
    expect(during).not.toContain('lost');
  });

  it('a dead agent on a healthy site is not a lost site: the hosts still answer the witness', async () => {
    const from = seen.get(WEST)?.length ?? 0;
    await rig(WEST).agent?.kill('SIGKILL');
    await until('dc-west isolated', async () => (await states())[WEST] === 'isolated', 15_000);
    await sleep(2000);
    const during = since(WEST, from);
    expect(during).not.toContain('lost');
    expect((await states())[WEST]).toBe('isolated');
    const line = rig(EAST)
      .agent?.output()
      .split('\n')
      .find((l) => l.includes('witness probe answered') && l.includes('"target":"dc-west"'));
    expect(line).toMatch(/"verdict":"reachable"/);
    expect(line).toMatch(/alive: no answer/);
    // Back with a new agent process (the killed one's session is still live: --replace).
    await startAgent(WEST, ['--replace']);
    await until('dc-west online again', async () => (await states())[WEST] === 'online');
  });

  it('a site that reaches only the arbiter holds its lease and is not lost, though the peer cannot reach it', async () => {
    const before = await running(EAST);
    const from = seen.get(EAST)?.length ?? 0;
    rig(EAST).control.cut('reset');
    rig(EAST).peer.cut('reset');
    rig(EAST).hosts.cut('reset');
    rig(WEST).peer.cut('reset');
    await sleep(3 * LEASE_MS);
    expect(fenced(EAST)).toBe(false);
    expect(await running(EAST)).toEqual(before);
    const during = since(EAST, from);
    expect(during).toContain('isolated');
    expect(during).not.toContain('lost');
    for (const proxy of [rig(EAST).control, rig(EAST).peer, rig(EAST).hosts, rig(WEST).peer]) proxy.restore();
    await until('dc-east online again', async () => (await states())[EAST] === 'online');
  });

  it('a site cut off from everything while it runs fences itself and is declared lost', async () => {
    expect((await running(EAST)).length).toBeGreaterThan(0);
    const cutAt = Date.now();
    rig(EAST).control.cut('reset');
    rig(EAST).arbiter.cut('reset');
    rig(EAST).peer.cut('reset');
    rig(EAST).hosts.cut('reset');
    // dc-east's own way to dc-west's listener: the same proxy dc-west is reached by.
    rig(WEST).peer.cut('reset');
    await until('dc-east fenced by its agent', () => fenced(EAST), 15_000);
    const fencedAfter = Date.now() - cutAt;
    expect(await running(EAST)).toEqual([]);
    await until('dc-east lost', async () => (await states())[EAST] === 'lost', 20_000);
    const lostAfter = Date.now() - cutAt;
    // It fenced itself before the monitor could declare it lost (lease − fence time < lease + margin).
    expect(fencedAfter).toBeLessThan(lostAfter);
    // The witness said why.
    const line = rig(WEST)
      .agent?.output()
      .split('\n')
      .find((l) => l.includes('witness probe answered') && l.includes('"verdict":"unreachable"'));
    expect(line).toBeDefined();
    // dc-west, still reaching the control plane, never fenced.
    expect(fenced(WEST)).toBe(false);
    const record = readFileSync(join(stateDir, EAST, 'self-fence.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(record.at(-1) ?? '{}').vms.length).toBeGreaterThan(0);
  });
});
