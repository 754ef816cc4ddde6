/**
 * The producer: `notify(event)` turns one occurrence into one delivery job per subscription that
 * wants its type, on the `notify` queue. Job ids are `<notification>.<subscription>` and the
 * notification id is derived from the occurrence, so a second raise (another control plane, a
 * resumed execution) adds nothing: BullMQ keeps a job id once, finished jobs are kept for
 * `retentionS`.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import { createQueueConnection } from '../../executor/index.ts';
import { type NotificationEvent, type NotificationPayload, payloadOf, TEST_TYPE } from './events.ts';
import { deliveryJobId, NOTIFY_QUEUE, notifyBullOptions, notifyKeys } from './keys.ts';
import { attemptsOf, type RetryPolicy, retryPolicyOf } from './retry.ts';
import { createSubscriptionStore, type StoredSubscription, wants } from './subscriptions.ts';

/** A delivery job's data: the body is serialized once so that every attempt sends the same bytes. */
export interface DeliveryJob {
  subscription: string;
  notification: string;
  type: string;
  body: string;
  /** Per-attempt timeout (the producer's policy). */
  timeoutMs: number;
}

export interface RaiseResult {
  /** The notification's id (its deliveries' Idempotency-Key). */
  id: string;
  /** Deliveries queued (one per subscription that wants the type). */
  deliveries: number;
  /** False when this occurrence had been raised before (nothing new was sent). */
  first: boolean;
}

export interface Notifier {
  notify(event: NotificationEvent): Promise<RaiseResult>;
  /** A test delivery to one subscription (`drctl notify test`). */
  test(subscription: string, by: string): Promise<RaiseResult>;
  /** Jobs waiting, delayed or under way on the queue. */
  depth(): Promise<number>;
  close(): Promise<void>;
}

export interface NotifierOptions {
  redisUrl: string;
  /** The vault's connection (subscriptions, the raise's marks). */
  redis: Redis;
  prefix: string;
  retry?: Partial<RetryPolicy>;
  /** How long a raised occurrence is remembered (and its jobs kept). @defaultValue 7 days */
  retentionS?: number;
  log: Logger;
  /** @defaultValue Date.now */
  now?: () => number;
}

export const NOTIFY_RETENTION_S = 7 * 24 * 3600;

export function createNotifier(options: NotifierOptions): Notifier {
  const { redis, prefix } = options;
  const keys = notifyKeys(prefix);
  const policy = retryPolicyOf(options.retry);
  const retentionS = options.retentionS ?? NOTIFY_RETENTION_S;
  const store = createSubscriptionStore(redis, prefix);
  const connection = createQueueConnection(options.redisUrl, { name: 'drorch-notify-producer' });
  const queue = new Queue<DeliveryJob>(NOTIFY_QUEUE, { connection, ...notifyBullOptions(prefix) });
  queue.on('error', (error) => options.log.warn({ err: error.message }, 'notification queue error'));

  const enqueue = async (
    payload: NotificationPayload,
    subscriptions: readonly StoredSubscription[],
  ): Promise<RaiseResult> => {
    // The first raise marks the subscriptions' pending sets; a later one only re-adds the jobs
    // (no-ops unless the first raiser died between its mark and its add).
    const first = (await redis.set(keys.seen(payload.id), '1', 'EX', retentionS, 'NX')) === 'OK';
    if (subscriptions.length === 0) return { id: payload.id, deliveries: 0, first };
    const body = JSON.stringify(payload);
    const jobs = subscriptions.map((subscription) => ({
      name: payload.type,
      data: {
        subscription: subscription.id,
        notification: payload.id,
        type: payload.type,
        body,
        timeoutMs: policy.attemptTimeoutMs,
      },
      opts: {
        jobId: deliveryJobId(payload.id, subscription.id),
        attempts: attemptsOf(policy),
        backoff: { type: 'notify' },
        removeOnComplete: { age: retentionS },
        removeOnFail: { age: retentionS },
      },
    }));
    if (first) {
      const marks = redis.multi();
      for (const job of jobs) marks.sadd(keys.pending(job.data.subscription), job.opts.jobId);
      await marks.exec();
    }
    await queue.addBulk(jobs);
    return { id: payload.id, deliveries: jobs.length, first };
  };

  return {
    async notify(event) {
      const payload = payloadOf(event, options.now);
      const subscriptions = (await store.list()).filter((s) => wants(s, event.type));
      const result = await enqueue(payload, subscriptions);
      if (result.first)
        options.log.info(
          { notification: result.id, type: event.type, deliveries: result.deliveries },
          event.summary,
        );
      return result;
    },
    async test(id, by) {
      const subscription = await store.get(id);
      const at = new Date((options.now ?? Date.now)()).toISOString();
      return enqueue(
        {
          ...payloadOf(
            {
              type: 'step.failed',
              occurrence: `test/${id}/${randomBytes(6).toString('hex')}`,
              at,
              subject: {},
              summary: `test notification for subscription ${id}, asked by ${by}`,
            },
            options.now,
          ),
          type: TEST_TYPE,
          details: { by },
        },
        [subscription],
      );
    },
    async depth() {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}
