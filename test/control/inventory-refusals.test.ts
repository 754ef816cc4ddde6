import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryBatch, VM_NAME_MAX } from '../../engine/control/inventory/index.ts';
import { startVault, type Vault } from './inventory-support.ts';

let vault: Vault;
beforeAll(async () => {
  vault = await startVault();
});
afterAll(async () => {
  await vault.close();
});

const vm = (name = 'sql-01') => ({
  name,
  host: 'dc-west-h1',
  isTest: false,
  state: 'Off' as const,
  heartbeat: 'NoContact' as const,
  automaticStartAction: 'Nothing' as const,
  epoch: 0,
  startBarred: false,
  memoryMb: 4096,
  network: null,
  replication: {
    mode: 'Replica' as const,
    state: 'Replicating' as const,
    health: 'Normal' as const,
    primarySite: 'dc-east',
    replicaSite: 'dc-west',
    frequencySec: 30 as const,
    lastReplicationTime: '2026-01-01T01:00:00.000Z',
    resyncRequired: false,
  },
  latest: { id: 'p-latest', time: '2026-01-01T01:00:00.000Z' },
  points: [{ id: 'p-1', kind: 'standard' as const, time: '2026-01-01T00:00:00.000Z' }],
});

const full = (over: Record<string, unknown> = {}): InventoryBatch & Record<string, unknown> => ({
  kind: 'full',
  session: 'session-0001',
  seq: 1,
  hostTime: '2026-01-01T01:00:10.000Z',
  part: 0,
  parts: 1,
  hosts: [
    {
      name: 'dc-west-h1',
      powered: true,
      vmSlots: 50,
      memoryMb: 262_144,
      usedSlots: 1,
      usedMemoryMb: 4096,
      maxConcurrentBoots: 8,
      booting: 0,
    },
  ],
  networks: [{ name: 'production', isolated: false }],
  vms: [vm()],
  ...over,
});

const post = async (payload: unknown, site = 'dc-west') =>
  vault.app.inject({
    method: 'POST',
    url: `/api/v1/agents/${site}/inventory`,
    payload: payload as object,
    headers: await vault.agentHeaders(site),
  });

describe('POST /api/v1/agents/:site/inventory refuses', () => {
  it('accepts a well-formed full (the baseline of the refusals below)', async () => {
    const reply = await post(full());
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ applied: true, seq: 1, refresh: false });
    expect((await post(full())).json()).toMatchObject({ applied: false }); // a retry is applied once
  });

  // Regression: anyone could post a site's inventory; the other agent routes check the session.
  it("a post without the site's agent session (403), or with another's (409)", async () => {
    const bare = await vault.app.inject({
      method: 'POST',
      url: '/api/v1/agents/dc-west/inventory',
      payload: full({ session: 'session-bare' }),
    });
    expect(bare.statusCode, bare.body).toBe(403);
    expect(bare.headers['content-type']).toMatch(/problem\+json/);
    expect(bare.json()).toMatchObject({ code: 'AGENT_SESSION_REQUIRED' });
    expect(bare.json().detail).toMatch(/X-Agent-Session/);
    // dc-east's session on dc-west's route.
    const crossed = await vault.app.inject({
      method: 'POST',
      url: '/api/v1/agents/dc-west/inventory',
      payload: full({ session: 'session-cross' }),
      headers: await vault.agentHeaders('dc-east'),
    });
    expect(crossed.statusCode, crossed.body).toBe(409);
    expect(crossed.json().code).toMatch(/^(AGENT_REPLACED|UNKNOWN_SESSION)$/);
    const made = await vault.app.inject({
      method: 'POST',
      url: '/api/v1/agents/dc-ghost/inventory',
      payload: full({ session: 'session-ghost' }),
      headers: { 'x-agent-session': 'f'.repeat(32) },
    });
    expect(made.statusCode, made.body).toBe(409);
    expect(made.json()).toMatchObject({ code: 'UNKNOWN_SESSION' });
    // None of them reached the store.
    expect(await vault.store.sites()).not.toContain('dc-ghost');
    expect((await vault.store.meta('dc-ghost')).complete).toBe(false);
  });

  it('a field the schema does not declare, naming it', async () => {
    const reply = await post(full({ vms: [{ ...vm(), diskContent: 'AAAA' }] }));
    expect(reply.statusCode).toBe(400);
    expect(reply.json().detail).toMatch(/body\.vms\.0.*diskContent/);
  });

  it('a field of the wrong type, naming it', async () => {
    const reply = await post(full({ vms: [{ ...vm(), memoryMb: 'lots' }] }));
    expect(reply.statusCode).toBe(400);
    expect(reply.json().issues).toContainEqual(expect.objectContaining({ path: 'body.vms.0.memoryMb' }));
  });

  it(`a VM name over ${VM_NAME_MAX} characters`, async () => {
    const reply = await post(full({ vms: [vm('v'.repeat(VM_NAME_MAX + 1))] }));
    expect(reply.statusCode).toBe(400);
    expect(reply.json().detail).toContain(`body.vms.0.name: longer than ${VM_NAME_MAX} characters`);
  });

  it('a body over the 1 MiB limit with 413', async () => {
    const vms = Array.from({ length: 1_900 }, (_, i) => ({ ...vm(`vm-${i}`), host: 'h'.repeat(120) }));
    const reply = await post(full({ vms, hostTime: '2026-01-01T01:00:10.000Z' }));
    expect(reply.statusCode).toBe(413);
    expect(reply.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it('a changes batch after a full the vault does not have, with 409 INVENTORY_RESYNC', async () => {
    const reply = await post(
      { ...full(), kind: 'changes', part: undefined, parts: undefined, removed: [], seq: 9 },
      'dc-nowhere',
    );
    expect(reply.statusCode).toBe(409);
    expect(reply.json()).toMatchObject({ code: 'INVENTORY_RESYNC' });
    expect(reply.json().detail).toContain('holds no full inventory');
  });

  it('a bad site name in the path', async () => {
    expect((await post(full(), 'no%20such%20site')).statusCode).toBe(400);
  });

  it('counts every refusal in /metrics', async () => {
    const metrics = (await vault.app.inject('/metrics')).body;
    expect(metrics).toMatch(
      /drorch_requests_refused_total\{route="\/api\/v1\/agents\/:site\/inventory",code="BAD_REQUEST"\} [1-9]/,
    );
    expect(metrics).toMatch(/code="BODY_TOO_LARGE"\} 1/);
  });
});

describe('fuzzed inventory bodies', () => {
  /** A path into the valid body and a value that breaks it there. */
  const breakage = fc.oneof(
    fc.record({ kind: fc.constant('extra' as const), key: fc.string({ minLength: 1, maxLength: 12 }) }),
    fc.record({
      kind: fc.constant('retype' as const),
      value: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer())),
    }),
    fc.record({ kind: fc.constant('drop' as const) }),
    fc.record({ kind: fc.constant('long' as const), length: fc.integer({ min: 129, max: 5_000 }) }),
  );

  /** Every object and leaf position of a body. */
  function positions(value: unknown, path: (string | number)[] = []): (string | number)[][] {
    if (value === null || typeof value !== 'object') return [path];
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    return [path, ...entries.flatMap(([k, v]) => positions(v, [...path, k]))];
  }

  function apply(
    body: unknown,
    path: (string | number)[],
    change: { kind: string; key?: string; value?: unknown; length?: number },
  ): unknown {
    const copy = structuredClone(body) as Record<string | number, unknown>;
    let parent: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path.at(-1);
    const target = last === undefined ? copy : parent[last];
    switch (change.kind) {
      case 'extra':
        if (target === null || typeof target !== 'object' || Array.isArray(target)) return undefined;
        if (change.key === undefined || change.key === '__proto__' || change.key in target) return undefined;
        (target as Record<string, unknown>)[change.key] = 1;
        return copy;
      case 'retype':
        if (last === undefined || typeof change.value === typeof parent[last]) return undefined;
        if (Array.isArray(change.value) && Array.isArray(parent[last])) return undefined;
        parent[last] = change.value;
        return copy;
      case 'drop':
        // Every field of a full's part 0 but `ip`, `lastReplicationTime`, `madeFrom`, `latest`, `poweredOnAt` is required.
        if (last === undefined || typeof last === 'number') return undefined;
        if (['ip', 'lastReplicationTime', 'madeFrom', 'latest', 'poweredOnAt'].includes(last))
          return undefined;
        delete parent[last];
        return copy;
      case 'long':
        if (last === undefined || typeof parent[last] !== 'string' || last === 'kind') return undefined;
        parent[last] = 'x'.repeat(change.length ?? 200);
        return copy;
      default:
        return undefined;
    }
  }

  it('refuses every broken body with a 4xx and never answers 5xx (3,000 bodies)', async () => {
    const base = full({
      session: 'fuzz-session',
      vms: [vm('a'), { ...vm('b'), network: { network: 'n', ip: '10.0.0.1' } }],
    });
    const all = positions(base);
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: all.length - 1 }), breakage, async (at, change) => {
        const body = apply(base, all[at] ?? [], change);
        if (body === undefined) return;
        const reply = await post(body, 'dc-fuzz');
        expect(
          reply.statusCode,
          JSON.stringify({ path: all[at], change, reply: reply.body }),
        ).toBeGreaterThanOrEqual(400);
        expect(reply.statusCode).toBeLessThan(500);
        expect(reply.json().detail).toEqual(expect.any(String));
        refused++;
      }),
      { numRuns: 3_000, seed: 11 },
    );
    expect(refused).toBeGreaterThan(1_000);
  }, 120_000);

  it('answers arbitrary JSON with a 4xx, never a 5xx (1,000 bodies)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (body) => {
        const reply = await vault.app.inject({
          method: 'POST',
          url: '/api/v1/agents/dc-fuzz/inventory',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        expect(reply.statusCode).toBeGreaterThanOrEqual(400);
        expect(reply.statusCode).toBeLessThan(500);
      }),
      { numRuns: 1_000, seed: 12 },
    );
  }, 120_000);
});
