/**
 * The deliverer: a BullMQ worker of the `notify` queue in every control plane (several share the
 * queue; a job's lock makes one of them send each attempt). One attempt POSTs the job's body,
 * signed, with its timeout. 2xx: delivered. 4xx but 408 and 429: the receiver refuses it, given
 * up at once. Anything else (5xx, 408, 429, a 3xx, no answer): retried with backoff (retry.ts)
 * until the attempts are spent, then given up. Each outcome is recorded on its subscription
 * (status.ts) and counted (`drorch_notifications_total`).
 */
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { Logger } from '../../common/index.ts';
import { createQueueConnection } from '../../executor/index.ts';
import { NOTIFY_QUEUE, notifyBullOptions } from './keys.ts';
import type { DeliveryJob } from './producer.ts';
import { type RetryPolicy, retryDelayAfter, retryPolicyOf } from './retry.ts';
import { SIGNATURE_HEADER, signDelivery, TIMESTAMP_HEADER } from './sign.ts';
import { recordOutcome } from './status.ts';
import { createSubscriptionStore } from './subscriptions.ts';

export interface DelivererOptions {
  redisUrl: string;
  redis: Redis;
  prefix: string;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  /** `drorch_notifications_total{outcome}`: delivered, retried, given-up. */
  counter?: Counter<'outcome'>;
  /** Deliveries sent at once by this control plane. @defaultValue 8 */
  concurrency?: number;
  /** A dead deliverer's attempt is taken over after this. @defaultValue 30_000 */
  lockDurationMs?: number;
  /** @defaultValue 5_000 */
  stalledIntervalMs?: number;
}

export interface Deliverer {
  close(timeoutMs?: number): Promise<void>;
}

/** An attempt that failed and may be tried again. */
class RetryableDelivery extends Error {}

export async function startDeliverer(options: DelivererOptions): Promise<Deliverer> {
  const { redis, prefix, log } = options;
  const policy = retryPolicyOf(options.retry);
  const store = createSubscriptionStore(redis, prefix);
  const connection = createQueueConnection(options.redisUrl, { name: 'drorch-notify-deliverer' });

  const attempt = async (job: Job<DeliveryJob>): Promise<{ status: number }> => {
    const { subscription: id, notification, type, body } = job.data;
    const number = job.attemptsMade + 1;
    const last = number >= (job.opts.attempts ?? 1);
    const subscription = await store.get(id).catch(() => undefined);
    if (subscription === undefined) throw new UnrecoverableError(`subscription ${id} was removed`);
    const outcome = (result: 'delivered' | 'retried' | 'given-up', detail: string, status?: number) => {
      options.counter?.inc({ outcome: result });
      const level = result === 'delivered' ? 'info' : 'warn';
      log[level](
        { notification, subscription: id, type, attempt: number, status },
        `notification ${result}: ${detail}`,
      );
      return recordOutcome(redis, prefix, {
        subscription: id,
        jobId: job.id ?? '',
        notification,
        type,
        outcome: result,
        detail,
        attempt: number,
        at: new Date().toISOString(),
      });
    };
    const timestamp = Math.floor(Date.now() / 1000);
    let response: Response;
    try {
      response = await fetch(subscription.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'drorch-notify/1',
          'idempotency-key': notification,
          'x-dr-event': type,
          'x-dr-delivery-attempt': String(number),
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signDelivery(subscription.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(job.data.timeoutMs || policy.attemptTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      const why =
        error instanceof Error && error.name === 'TimeoutError'
          ? 'timed out'
          : String((error as Error).message ?? error);
      await outcome(last ? 'given-up' : 'retried', `${subscription.url}: ${why}`);
      throw new RetryableDelivery(why);
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      await outcome('delivered', `${subscription.url} answered ${status}`, status);
      return { status };
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      await outcome('given-up', `${subscription.url} refused it (${status}); not retried`, status);
      throw new UnrecoverableError(`HTTP ${status}`);
    }
    await outcome(last ? 'given-up' : 'retried', `${subscription.url} answered ${status}`, status);
    throw new RetryableDelivery(`HTTP ${status}`);
  };

  const worker = new Worker<DeliveryJob>(NOTIFY_QUEUE, attempt, {
    connection,
    ...notifyBullOptions(prefix),
    concurrency: options.concurrency ?? 8,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 5_000,
    settings: { backoffStrategy: (attemptsMade: number) => retryDelayAfter(policy, attemptsMade) },
  });
  worker.on('error', (error) => log.warn({ err: error.message }, 'notification worker error'));
  await worker.waitUntilReady();
  return {
    async close(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          void worker.close(true).finally(resolve);
        }, timeoutMs);
      });
      await Promise.race([worker.close(), bounded]);
      clearTimeout(timer);
      connection.disconnect();
    },
  };
}
