import { afterEach, describe, expect, it } from 'vitest';
import {
  createSimClient,
  type SimClient,
  SimError,
  type SimServer,
  startSimServer,
  type World,
} from '../../simulators/index.ts';
import { HOUR, twoSites } from './world-fixture.ts';

let server: SimServer | undefined;
let client: SimClient | undefined;
let world: World | undefined;

afterEach(async () => {
  client?.close();
  await server?.close();
  world?.close();
  client = undefined;
  server = undefined;
  world = undefined;
});

async function serve(w: World): Promise<SimClient> {
  world = w;
  server = await startSimServer(w.api, { port: 0 });
  client = createSimClient(server.url);
  return client;
}

describe('the Hyper-V API over HTTP', () => {
  it('answers reads and mutations like the in-process API and counts the same mutations', async () => {
    const api = await serve(twoSites());
    await api.advance(HOUR);
    expect(await api.listSites()).toEqual(['east', 'west']);
    const vms = await api.listVMs('west');
    expect(vms.map((v) => [v.name, v.replication?.mode])).toEqual([['vm-a', 'Replica']]);
    const points = await api.getRecoveryPoints('west', 'vm-a');
    // Hyper-V's shape over the wire: no write sequence numbers (those stay in the simulator).
    expect(points[0]).toEqual({ id: 'west.vm-a.latest', kind: 'latest', time: '2026-01-01T01:00:00.000Z' });
    expect((await api.replicationSeqs('west', 'vm-a')).points[0]).toMatchObject({ seq: 36_000 });
    expect(await api.measureVMReplication('west', 'vm-a')).not.toHaveProperty('receivedSeq');
    const { recoveryPoint } = await api.startVMFailover({
      site: 'west',
      vm: 'vm-a',
      epoch: 1,
      mode: 'failover',
      recoveryPoint: { kind: 'latest' },
    });
    expect(recoveryPoint).not.toHaveProperty('seq');
    const truth = await api.truth();
    expect(truth.failovers[0]?.recoveryPoint.seq).toBe(36_000);
    expect(truth.failovers[0]).toMatchObject({ kind: 'unplanned', lostWrites: 0 });
    expect(truth.mutations['vm-a']?.west).toEqual({ 'startVMFailover.failover': 1 });
    expect(truth).toEqual(world?.truth());
    const viaGet = (await (await fetch(`${server?.url}/truth`)).json()) as unknown;
    expect(viaGet).toEqual(truth);
  });

  it('sets the automatic start action (Set-VM -AutomaticStartAction) and reports Uptime over HTTP', async () => {
    const api = await serve(twoSites());
    await api.advance(HOUR);
    expect((await api.getVM('east', 'vm-a')).uptimeSec).toBe(3600);
    const view = await api.setVMAutomaticStartAction({
      site: 'east',
      vm: 'vm-a',
      epoch: 1,
      action: 'Nothing',
    });
    expect(view.automaticStartAction).toBe('Nothing');
    expect(await api.getVM('east', 'vm-a')).toMatchObject({ automaticStartAction: 'Nothing', epoch: 1 });
    await expect(
      api.setVMAutomaticStartAction({ site: 'east', vm: 'vm-a', epoch: 1, action: 'Never' as 'Nothing' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await api.truth()).mutations['vm-a']?.east).toEqual({ setVMAutomaticStartAction: 1 });
  });

  it('re-throws typed errors as SimError with code, retryable flag and the VM in the message', async () => {
    const api = await serve(twoSites());
    await api.advance(HOUR);
    await api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    const again = api.startVMFailover({ site: 'west', vm: 'vm-a', epoch: 1, mode: 'failover' });
    await expect(again).rejects.toBeInstanceOf(SimError);
    await expect(again).rejects.toMatchObject({
      code: 'INVALID_STATE',
      retryable: false,
      details: { vm: 'vm-a', site: 'west' },
    });
    await expect(again).rejects.toThrow(/VM 'vm-a' at site 'west'/);
    await expect(api.getVM('west', 'ghost')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await api.fault({ kind: 'site-power', site: 'east', state: 'off' });
    await expect(api.listVMs('east')).rejects.toMatchObject({ code: 'SITE_UNREACHABLE', retryable: true });
    await expect(api.startVM({ site: 'west', vm: 'vm-a', epoch: -1 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('sends calls made together as one batch, each resolving or failing on its own, in order', async () => {
    const api = await serve(twoSites());
    await api.advance(HOUR);
    const settled = await Promise.allSettled([
      api.getVM('west', 'vm-a'),
      api.getVM('west', 'ghost'),
      api.stopVM({ site: 'east', vm: 'vm-a', epoch: 3 }),
      api.stopVM({ site: 'east', vm: 'vm-a', epoch: 2 }),
      api.startVMFailover({ site: 'east', vm: 'vm-a', epoch: 3, mode: 'prepare' }),
    ]);
    expect(settled.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const reasons = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(reasons[0]).toBeInstanceOf(SimError);
    expect(reasons.map((e: SimError) => e.code)).toEqual(['VM_NOT_FOUND', 'STALE_EPOCH']);
    const truth = await api.truth();
    expect(truth.mutations['vm-a']?.east).toEqual({ stopVM: 2, 'startVMFailover.prepare': 1 });
    // The same calls without batching give the same answers.
    const plain = createSimClient({ url: server?.url ?? '', batch: false });
    try {
      await expect(plain.getVM('west', 'ghost')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
      expect((await plain.getVM('east', 'vm-a')).replication?.state).toBe('PreparedForFailover');
    } finally {
      plain.close();
    }
  });

  it('holds waitForHeartbeat open until simulated time reaches the guest heartbeat', async () => {
    const api = await serve(twoSites({ state: 'Off' }));
    await api.startVM({ site: 'east', vm: 'vm-a', epoch: 1 });
    const wait = api.waitForHeartbeat('east', 'vm-a', 60_000);
    await api.advance(10_000);
    expect(await wait).toEqual({ ok: true, waitedMs: 10_000 });
  });

  it('answers malformed requests in the error shape, and resolves heartbeats on a scaled clock by itself', async () => {
    const { createWorld } = await import('../../simulators/index.ts');
    const api = await serve(
      createWorld({
        clock: { mode: 'scaled', speed: 1000 },
        sites: [{ name: 's', hosts: [{ name: 'h' }] }],
        vms: [{ name: 'v', site: 's', host: 'h', state: 'Off', boot: 30_000 }],
      }),
    );
    const bad = await fetch(`${server?.url}/api/getVM`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
    const missing = await fetch(`${server?.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'BAD_REQUEST' });
    await api.startVM({ site: 's', vm: 'v', epoch: 1 });
    const wait = await api.waitForHeartbeat('s', 'v', 3_600_000);
    expect(wait.ok).toBe(true);
  });

  it('reports an unreachable simulator as SITE_UNREACHABLE, and routes a site through its own URL', async () => {
    const api = await serve(twoSites());
    const port = server?.port ?? 0;
    const routed = createSimClient({ url: server?.url ?? '', siteUrls: { east: 'http://127.0.0.1:9' } });
    try {
      await expect(routed.listVMs('east')).rejects.toMatchObject({
        code: 'SITE_UNREACHABLE',
        retryable: true,
      });
      expect(await routed.listVMs('west')).toHaveLength(1);
    } finally {
      routed.close();
    }
    expect(port).toBeGreaterThan(0);
    expect(await api.now()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('drives a thousand VMs in a batch through one keep-alive client', async () => {
    const { createWorld } = await import('../../simulators/index.ts');
    const w = createWorld({
      clock: { mode: 'manual' },
      sites: [
        {
          name: 's',
          hosts: Array.from({ length: 20 }, (_, i) => ({ name: `h${i}`, maxConcurrentBoots: 50 })),
        },
      ],
      vms: Array.from({ length: 1000 }, (_, i) => ({
        name: `vm-${i}`,
        site: 's',
        host: `h${i % 20}`,
        state: 'Off' as const,
      })),
    });
    const api = await serve(w);
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => api.startVM({ site: 's', vm: `vm-${i}`, epoch: 1 })),
    );
    const vms = await api.listVMs('s');
    expect(vms.filter((v) => v.state === 'Starting')).toHaveLength(1000);
    const truth = await api.truth();
    expect(Object.keys(truth.mutations)).toHaveLength(1000);
  });
});
