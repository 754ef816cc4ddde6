/**
 * Webhook deliveries on the real `notify` queue (real Redis, BullMQ) to a real HTTP receiver:
 * signed, retried with the same Idempotency-Key, given up on a 4xx, taken over by another
 * deliverer, and one delivery for an occurrence raised twice.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptsOf,
  createSubscriptionStore,
  deliveryStatus,
  type NotificationEvent,
  type Notifications,
  siteNotification,
  startNotifications,
  verifyDelivery,
} from '../../engine/control/notify/index.ts';
import { silent } from '../engine/support.ts';
import { tracked } from '../support/children.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type Receiver, startReceiver, until } from './notify-support.ts';

const fast = { initialDelayMs: 100, maxDelayMs: 400, giveUpAfterMs: 3_000, attemptTimeoutMs: 2_000 };

const event = (occurrence: string): NotificationEvent => ({
  type: 'step.failed',
  occurrence,
  subject: { plan: 'erp', execution: 'e1', step: 'vm/sql-01/failover' },
  summary: 'erp: step vm/sql-01/failover failed',
  details: { attempt: 1 },
});

describe('webhook deliveries', () => {
  let redis: Redis;
  let receiver: Receiver;
  let prefix: string;
  const planes: Notifications[] = [];
  const start = async (options: { deliver?: boolean; counter?: Counter<'outcome'> } = {}) => {
    const plane = await startNotifications({
      redisUrl: testRedisUrl(),
      redis,
      prefix,
      log: silent,
      retry: fast,
      lockDurationMs: 1_000,
      stalledIntervalMs: 300,
      ...options,
    });
    planes.push(plane);
    return plane;
  };
  const subscribe = async (events?: NotificationEvent['type'][]) =>
    createSubscriptionStore(redis, prefix).add({
      url: receiver.url,
      ...(events === undefined ? {} : { events }),
      by: 'tester',
    });

  beforeAll(() => {
    redis = testRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    for (const plane of planes.splice(0)) await plane.close(2_000);
    await receiver.close();
  });
  const fresh = async () => {
    prefix = uniquePrefix('notify');
    receiver = await startReceiver();
  };

  it('delivers the payload signed with the subscription secret, with its event and idempotency key', async () => {
    await fresh();
    const { subscription, secret } = await subscribe();
    const plane = await start();
    const raised = await plane.notify(event('e1/vm/sql-01/failover/1'));
    expect(raised).toMatchObject({ deliveries: 1, first: true });
    const [got] = await receiver.waitFor(1);
    if (got === undefined) throw new Error('no delivery');
    const payload = JSON.parse(got.body);
    expect(payload).toMatchObject({
      id: raised.id,
      type: 'step.failed',
      subject: { plan: 'erp', execution: 'e1' },
      summary: 'erp: step vm/sql-01/failover failed',
    });
    expect(got.headers['idempotency-key']).toBe(raised.id);
    expect(got.headers['x-dr-event']).toBe('step.failed');
    const headers = {
      signature: got.headers['x-dr-signature'] as string,
      timestamp: got.headers['x-dr-timestamp'] as string,
    };
    expect(verifyDelivery(secret, got.body, headers)).toEqual({ ok: true });
    // A forged body, a wrong secret and a replay an hour later are refused.
    expect(verifyDelivery(secret, got.body.replace('failed', 'fine'), headers).ok).toBe(false);
    expect(verifyDelivery('another-secret-of-16+', got.body, headers).ok).toBe(false);
    expect(verifyDelivery(secret, got.body, headers, { nowMs: Date.now() + 3_600_000 }).ok).toBe(false);
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).delivered === 1);
    expect(await deliveryStatus(redis, prefix, subscription.id)).toMatchObject({ pending: 0, givenUp: 0 });
  });

  it('retries a failing receiver with the same Idempotency-Key and delivers once', async () => {
    await fresh();
    const { subscription } = await subscribe();
    const registry = new Registry();
    const counter = new Counter({
      name: 'n',
      help: 'n',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const plane = await start({ counter });
    receiver.answers.push(503, 500);
    const raised = await plane.notify(event('retry/1'));
    const got = await receiver.waitFor(3);
    expect(got.map((r) => r.headers['idempotency-key'])).toEqual([raised.id, raised.id, raised.id]);
    expect(got.map((r) => r.headers['x-dr-delivery-attempt'])).toEqual(['1', '2', '3']);
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).delivered === 1);
    const status = await deliveryStatus(redis, prefix, subscription.id);
    expect(status).toMatchObject({ delivered: 1, failedAttempts: 2, givenUp: 0, pending: 0 });
    expect(status.last).toMatchObject({ outcome: 'delivered', attempt: 3 });
    const text = await registry.metrics();
    expect(text).toContain('n{outcome="retried"} 2');
    expect(text).toContain('n{outcome="delivered"} 1');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received).toHaveLength(3);
  });

  it('gives up at once on a 4xx other than 408 and 429', async () => {
    await fresh();
    const { subscription } = await subscribe();
    const plane = await start();
    receiver.answers.push(410);
    await plane.notify(event('gone/1'));
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).givenUp === 1);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(receiver.received).toHaveLength(1);
    expect((await deliveryStatus(redis, prefix, subscription.id)).last).toMatchObject({
      outcome: 'given-up',
      attempt: 1,
    });
  });

  it('retries a 429 and gives up once its attempts are spent', async () => {
    await fresh();
    const { subscription } = await subscribe();
    const plane = await start();
    receiver.answers.push(...Array.from({ length: 50 }, () => 429));
    await plane.notify(event('busy/1'));
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).givenUp === 1, 20_000);
    // 100 ms doubling to 400 ms within 3 s: 100 + 200 + 6 × 400 = 2.7 s of delays, 9 attempts.
    expect(attemptsOf(fast)).toBe(9);
    expect(receiver.received).toHaveLength(9);
    expect(await deliveryStatus(redis, prefix, subscription.id)).toMatchObject({ delivered: 0, pending: 0 });
  });

  it('is finished by another control plane when the first one stops mid-retry', async () => {
    await fresh();
    const { subscription } = await subscribe();
    const first = await start();
    receiver.answers.push(503);
    const raised = await first.notify(event('takeover/1'));
    await receiver.waitFor(1);
    await first.close(2_000);
    const second = await start();
    const got = await receiver.waitFor(2);
    expect(got.map((r) => r.headers['idempotency-key'])).toEqual([raised.id, raised.id]);
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).delivered === 1);
    expect(second).toBeDefined();
  });

  it('is finished by another control plane when the one sending it is killed mid-attempt', async () => {
    await fresh();
    const { subscription } = await subscribe();
    // A control plane's deliverer in a process of its own, its job lock 1 s.
    const script = `
      import { Redis } from 'ioredis';
      import { createLogger } from './engine/common/index.ts';
      import { startNotifications } from './engine/control/notify/index.ts';
      const url = process.env.NOTIFY_REDIS_URL;
      const redis = new Redis(url, { maxRetriesPerRequest: null });
      await startNotifications({ redisUrl: url, redis, prefix: process.env.NOTIFY_PREFIX,
        log: createLogger('child', { level: 'silent' }), lockDurationMs: 1000, stalledIntervalMs: 300 });
      console.log('ready');
    `;
    const child = tracked(
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, NOTIFY_REDIS_URL: testRedisUrl(), NOTIFY_PREFIX: prefix },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    await once(child.stdout, 'data');
    receiver.hold.count = 1;
    const raiser = await start({ deliver: false });
    const raised = await raiser.notify(event('killed/1'));
    await receiver.waitFor(1, 30_000);
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The attempt under way died with its process: its lock expires and another deliverer sends it.
    await start();
    const got = await receiver.waitFor(2, 30_000);
    expect(got.map((r) => r.headers['idempotency-key'])).toEqual([raised.id, raised.id]);
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).delivered === 1);
    expect(await deliveryStatus(redis, prefix, subscription.id)).toMatchObject({ delivered: 1, pending: 0 });
  });

  it('delivers an occurrence raised by two control planes once', async () => {
    await fresh();
    const { subscription } = await subscribe();
    const one = await start();
    const two = await start();
    const [a, b] = await Promise.all([one.notify(event('twice/1')), two.notify(event('twice/1'))]);
    expect(a.id).toBe(b.id);
    expect([a.first, b.first].sort()).toEqual([false, true]);
    await until(async () => (await deliveryStatus(redis, prefix, subscription.id)).delivered === 1);
    await one.notify(event('twice/1'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received).toHaveLength(1);
  });

  it('sends a subscription only the event types it asked for, a site transition once', async () => {
    await fresh();
    await subscribe(['site.lost']);
    const plane = await start();
    expect((await plane.notify(event('filtered/1'))).deliveries).toBe(0);
    // The site monitor's producer: a new leader raising the same transition again changes nothing.
    const lost = await plane.notify(siteNotification({ site: 'dc-east', verdict: 'lost', transition: 3 }));
    const leader = await start({ deliver: false });
    expect(
      await leader.notify(siteNotification({ site: 'dc-east', verdict: 'lost', transition: 3 })),
    ).toMatchObject({
      id: lost.id,
      first: false,
    });
    expect(lost.deliveries).toBe(1);
    const [got] = await receiver.waitFor(1);
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ type: 'site.lost', subject: { site: 'dc-east' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received).toHaveLength(1);
  });
});
