/**
 * Health and RPO notifications from the agents' inventory: raised on the change into Critical or
 * beyond the plan's RPO target, not on every report (real Redis, a real receiver; the RPO case
 * through the inventory route, fed by a reporter reading a simulated world whose link is cut).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InventorySample } from '../../engine/control/inventory/index.ts';
import {
  createSubscriptionStore,
  type Notifications,
  startNotifications,
} from '../../engine/control/notify/index.ts';
import { uploadPlan } from '../../engine/control/plans/store.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { loadExample } from '../engine/support.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { reportSite, silent, startVault } from './inventory-support.ts';
import { type Receiver, startReceiver } from './notify-support.ts';

const EXAMPLE = 'plans/examples/three-tier.yaml';

describe('notifications from the inventory', { timeout: 60_000 }, () => {
  let redis: Redis;
  let receiver: Receiver;
  let plan: RecoveryPlan;
  const closing: Array<() => Promise<unknown>> = [];
  const fast = { initialDelayMs: 100, maxDelayMs: 400, giveUpAfterMs: 2_000 };

  beforeAll(async () => {
    redis = testRedisClient();
    ({ plan } = await loadExample(EXAMPLE));
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });
  const setUp = async (vaultRedis: Redis, prefix: string): Promise<Notifications> => {
    receiver = await startReceiver();
    closing.push(() => receiver.close());
    await createSubscriptionStore(vaultRedis, prefix).add({ url: receiver.url, by: 'tester' });
    await uploadPlan(vaultRedis, prefix, {
      file: EXAMPLE,
      text: readFileSync(EXAMPLE, 'utf8'),
      by: 'tester',
    });
    const notifications = await startNotifications({
      redisUrl: testRedisUrl(),
      redis: vaultRedis,
      prefix,
      log: silent,
      retry: fast,
    });
    closing.push(() => notifications.close(2_000));
    return notifications;
  };
  const types = () =>
    receiver.received.map((r) => JSON.parse(r.body) as { type: string; subject: { vm?: string } });

  it('tells of a VM turning Critical once, and again after it recovered and turned Critical anew', async () => {
    const prefix = uniquePrefix('notify-inv');
    const notifications = await setUp(redis, prefix);
    const sample = (health: InventorySample['health'], receivedAt: number): InventorySample => ({
      vm: 'sql-01',
      site: 'dc-west',
      at: receivedAt,
      rpoSec: 30,
      health,
      receivedAt,
    });
    await notifications.inventory.samples([sample('Normal', 1)]);
    await notifications.inventory.samples([sample('Critical', 2)]);
    await notifications.inventory.samples([sample('Critical', 3)]);
    await receiver.waitFor(1);
    await notifications.inventory.samples([sample('Normal', 4)]);
    await notifications.inventory.samples([sample('Critical', 5)]);
    await receiver.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(types()).toEqual([
      expect.objectContaining({ type: 'health.critical', subject: { site: 'dc-west', vm: 'sql-01' } }),
      expect.objectContaining({ type: 'health.critical', subject: { site: 'dc-west', vm: 'sql-01' } }),
    ]);
    expect(new Set(receiver.received.map((r) => r.headers['idempotency-key'])).size).toBe(2);
  });

  it("tells of each VM's RPO going beyond the plan's target once, through the inventory route", async () => {
    const vault = await startVault();
    closing.push(() => vault.close());
    const notifications = await setUp(vault.ctx.redis, vault.ctx.prefix);
    vault.ctx.notifications = notifications;
    const world = worldForPlan(plan, { clock: { mode: 'manual' } });
    world.advance(5 * 60_000);
    // The agent's clock moves with the world's: each cycle sends every VM, changed or not.
    const agent = { ms: 0 };
    const west = reportSite(vault, world, plan.target, { cycleMs: 30_000, clock: () => agent.ms });
    closing.push(() => west.reporter.close());
    await west.reporter.refreshNow();
    expect(receiver.received).toHaveLength(0);
    // Replication stops: the RPO grows past the plan's 5 min target.
    world.fault({ kind: 'link', from: plan.source, to: plan.target, state: 'down' });
    world.advance(7 * 60_000);
    agent.ms += 7 * 60_000;
    await west.reporter.refreshNow();
    world.advance(60_000);
    agent.ms += 60_000;
    await west.reporter.refreshNow();
    expect(west.sent.at(-1)?.vms.length).toBe(plan.vms.length);
    await receiver.waitFor(plan.vms.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const got = types();
    expect(got.every((n) => n.type === 'rpo.beyond-target')).toBe(true);
    expect(got.map((n) => n.subject.vm).sort()).toEqual(plan.vms.map((vm) => vm.name).sort());
    expect(JSON.parse(receiver.received[0]?.body ?? '{}').summary).toMatch(
      /^VM \S+ at dc-west: RPO \d+s beyond the 300s target of plan erp$/,
    );
  });
});
