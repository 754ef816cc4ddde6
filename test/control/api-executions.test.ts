/**
 * Drills and failovers through the control plane's API: the HTTP ExecutionClient against a control
 * plane in this process (its orchestrator and control-side actions) with the sites' workers and the
 * simulated world in process. The world judges: test VMs up and removed, VMs failed over.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpExecutionClient, whoAmI } from '../../engine/client/index.ts';
import { createQueueConnection, readAllEvents, type StoredEvent } from '../../engine/executor/index.ts';
import { PreflightBlockedError } from '../../engine/preflight/index.ts';
import { approveAsOperator, waitForStatus } from '../engine/support.ts';
import { type ApiEngine, startApiEngine } from './support.ts';

/** A TCP proxy to the control plane whose open connections a test can cut (a dropped link). */
async function cuttableProxy(target: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const { connect } = await import('node:net');
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;
const json = async (response: Response | Promise<Response>): Promise<Json> => await (await response).json();

async function allEvents(api: ApiEngine, id: string): Promise<StoredEvent[]> {
  const redis = createQueueConnection(api.engine.redisUrl);
  try {
    return await readAllEvents(redis, api.engine.prefix, id);
  } finally {
    await redis.quit();
  }
}

describe('executions through the control plane API', { timeout: 300_000 }, () => {
  let api: ApiEngine;
  beforeAll(async () => {
    api = await startApiEngine();
  }, 60_000);
  afterAll(async () => {
    await api?.close();
  });

  const source = () => ({ file: api.file, text: api.text });

  it('runs a dry run without taking anything', async () => {
    const report = await api.client.preflight({
      type: 'test',
      plan: api.plan,
      source: source(),
      exactPoints: true,
    });
    expect(report.locksChecked).toBe(true);
    expect(report.placements.map((p) => p.vm).sort()).toEqual(api.plan.vms.map((vm) => vm.name).sort());
    expect(report.estimatedRtoMs).toBeGreaterThan(0);
  });

  describe('a drill', () => {
    let drill: string;
    it('uploads the plan, runs every VM up as a test VM, and stores the version it ran', async () => {
      const submitted = await api.client.submit({
        type: 'test',
        plan: api.plan,
        hash: api.hash,
        source: source(),
        reason: 'drill through the API',
      });
      drill = submitted.id;
      expect(submitted.preflight.ok).toBe(true);
      const operator = approveAsOperator(api.client, drill);
      const view = await waitForStatus(api.client, drill, ['awaiting-cleanup', 'failed'], 120_000);
      operator.stop();
      // Who started it is the token's owner (startApiEngine's admin, the OS user).
      expect(view).toMatchObject({ status: 'awaiting-cleanup', by: whoAmI(), hash: api.hash });
      expect(view.stepsDone).toBe(view.stepsTotal);
      const testVms = (await api.engine.world.api.listVMs(api.plan.target)).filter((vm) => vm.isTest);
      expect(testVms.map((vm) => vm.state)).toEqual(api.plan.vms.map(() => 'Running'));

      const versions = await json(
        fetch(`${api.control.url}/api/v1/plans/erp/versions`, { headers: api.auth }),
      );
      expect(versions.versions.map((v: { hash: string }) => v.hash)).toEqual([api.hash]);
      const version = await json(
        fetch(`${api.control.url}/api/v1/plans/erp/versions/${api.hash}`, { headers: api.auth }),
      );
      expect(version.text).toBe(api.text);
    });

    it('answers status without per-VM views unless asked for with ?vms=true', async () => {
      const plain = await api.client.get(drill);
      expect(plain.vms).toBeUndefined();
      expect(plain.where).toBeUndefined();
      const full = await api.client.get(drill, { vms: true });
      expect(Object.keys(full.vms ?? {}).sort()).toEqual(api.plan.vms.map((vm) => vm.name).sort());
      expect(full.where?.['sql-01']?.state).toBe('runs');
      expect(full.waves).toBeGreaterThan(0);
      expect((await api.client.list({ limit: 5 })).map((r) => r.id)).toContain(drill);
    });

    it('refuses a second drill of the plan with 409 and the whole pre-flight report', async () => {
      const raw = await fetch(`${api.control.url}/api/v1/executions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...api.auth },
        body: JSON.stringify({
          type: 'test',
          plan: { name: 'erp', hash: api.hash },
          reason: 'again',
        }),
      });
      expect(raw.status).toBe(409);
      expect(raw.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = await json(raw);
      expect(problem.code).toBe('PREFLIGHT_BLOCKED');
      expect(problem.details.report.ok).toBe(false);
      expect(problem.details.report.blockers.length).toBeGreaterThan(0);
      expect(problem.details.report.selected).toEqual(api.plan.vms.map((vm) => vm.name));
      // The HTTP client throws what the Redis client throws: the report, for the CLI to print.
      const refused = await api.client
        .submit({ type: 'test', plan: api.plan, hash: api.hash, source: source(), reason: 'again' })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PreflightBlockedError);
      expect((refused as PreflightBlockedError).report.blockers).toEqual(problem.details.report.blockers);
    });

    it('cleans up through the API: every test VM removed, the drill cleaned up', async () => {
      const cleanup = await api.client.cleanup(drill, { reason: 'drill done' });
      expect(cleanup.created).toBe(true);
      const view = await waitForStatus(api.client, cleanup.id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('completed');
      expect((await api.client.get(drill)).status).toBe('cleaned-up');
      expect((await api.engine.world.api.listVMs(api.plan.target)).filter((vm) => vm.isTest)).toEqual([]);
    });
  });

  describe('a planned failover followed over a link that drops', () => {
    it('gets every event exactly once, resumed by Last-Event-ID, and the VMs run at the target', async () => {
      const proxy = await cuttableProxy(api.control.url);
      const watcher = createHttpExecutionClient({ server: proxy.url, token: api.token });
      try {
        const submitted = await api.client.submit({
          type: 'planned',
          plan: api.plan,
          hash: api.hash,
          source: source(),
          reason: 'planned move through the API',
          approveManual: true,
        });
        const seen: StoredEvent[] = [];
        let cuts = 0;
        for await (const stored of watcher.events(submitted.id, { follow: true })) {
          seen.push(stored);
          // Cut the link after the 5th and the 20th event: the client reconnects from its last id.
          if (seen.length === 5 || seen.length === 20) {
            proxy.cut();
            cuts += 1;
          }
        }
        expect(cuts).toBe(2);
        const view = await api.client.get(submitted.id);
        expect(view.status).toBe('completed');
        const stored = await allEvents(api, submitted.id);
        expect(seen.map((e) => e.id)).toEqual(stored.map((e) => e.id));
        expect(seen.at(-1)?.event.type).toBe('execution-finished');
        for (const vm of api.plan.vms) {
          const replica = await api.engine.world.api.getVM(api.plan.target, vm.name);
          expect(replica.state).toBe('Running');
        }
        expect(api.engine.world.truth().failovers.some((f) => f.kind === 'planned')).toBe(true);

        // The raw stream: after Last-Event-ID it starts with the next event and ends with `end`.
        const middle = stored[10]?.id ?? '';
        const response = await fetch(`${api.control.url}/api/v1/executions/${submitted.id}/events`, {
          headers: { 'last-event-id': middle, ...api.auth },
        });
        expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const body = await response.text();
        const ids = [...body.matchAll(/^id: (.+)$/gm)].map((m) => m[1]);
        expect(ids).toEqual(stored.slice(11).map((e) => e.id));
        expect(body.trimEnd().endsWith('event: end\ndata: {}')).toBe(true);

        // JSON pages with ?after=, for clients that do not stream.
        const page = await json(
          fetch(`${api.control.url}/api/v1/executions/${submitted.id}/events?after=${middle}&limit=3`, {
            headers: { accept: 'application/json', ...api.auth },
          }),
        );
        expect(page.events.map((e: StoredEvent) => e.id)).toEqual(stored.slice(11, 14).map((e) => e.id));
        expect(page.next).toBe(stored[13]?.id);
      } finally {
        await watcher.close();
        await proxy.close();
      }
    });
  });

  it('answers an unknown execution with 404 and the CLI code', async () => {
    const error = await api.client.get('no-such-run').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EXECUTION_NOT_FOUND', exitCode: 2 });
    const events = await fetch(`${api.control.url}/api/v1/executions/no-such-run/events`, {
      headers: api.auth,
    });
    expect(events.status).toBe(404);
  });
});
