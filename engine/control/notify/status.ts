/**
 * What became of a subscription's deliveries: the last outcome, counts, and the deliveries still
 * pending (not yet delivered or given up), as `drctl notify list` shows them.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { notifyKeys } from './keys.ts';

export const DeliveryStatusSchema = z
  .object({
    last: z
      .object({
        at: z.string(),
        notification: z.string(),
        type: z.string(),
        outcome: z.enum(['delivered', 'retried', 'given-up']),
        attempt: z.number().int(),
        detail: z.string(),
      })
      .nullable()
      .describe('the last attempt (null: none yet)'),
    delivered: z.number().int(),
    failedAttempts: z.number().int().describe('attempts that failed (retried or given up)'),
    givenUp: z.number().int(),
    pending: z.number().int().describe('deliveries queued or waiting for their next attempt'),
  })
  .meta({ id: 'NotificationDeliveryStatus' });
export type DeliveryStatus = z.infer<typeof DeliveryStatusSchema>;

export interface OutcomeRecord {
  subscription: string;
  jobId: string;
  notification: string;
  type: string;
  outcome: 'delivered' | 'retried' | 'given-up';
  detail: string;
  attempt: number;
  at: string;
}

export async function recordOutcome(redis: Redis, prefix: string, record: OutcomeRecord): Promise<void> {
  const keys = notifyKeys(prefix);
  // A removed subscription's status is not written again.
  const exists = await redis.hexists(keys.subs, record.subscription);
  if (!exists) return;
  const multi = redis.multi();
  multi.hset(keys.status(record.subscription), {
    last: JSON.stringify({
      at: record.at,
      notification: record.notification,
      type: record.type,
      outcome: record.outcome,
      attempt: record.attempt,
      detail: record.detail,
    }),
  });
  if (record.outcome === 'delivered') multi.hincrby(keys.status(record.subscription), 'delivered', 1);
  else multi.hincrby(keys.status(record.subscription), 'failedAttempts', 1);
  if (record.outcome === 'given-up') multi.hincrby(keys.status(record.subscription), 'givenUp', 1);
  if (record.outcome !== 'retried') multi.srem(keys.pending(record.subscription), record.jobId);
  await multi.exec();
}

export async function deliveryStatus(
  redis: Redis,
  prefix: string,
  subscription: string,
): Promise<DeliveryStatus> {
  const keys = notifyKeys(prefix);
  const [fields, pending] = await Promise.all([
    redis.hgetall(keys.status(subscription)),
    redis.scard(keys.pending(subscription)),
  ]);
  let last: DeliveryStatus['last'] = null;
  if (fields.last !== undefined) {
    const parsed = DeliveryStatusSchema.shape.last.safeParse(JSON.parse(fields.last));
    if (parsed.success) last = parsed.data;
  }
  return {
    last,
    delivered: Number(fields.delivered ?? 0),
    failedAttempts: Number(fields.failedAttempts ?? 0),
    givenUp: Number(fields.givenUp ?? 0),
    pending,
  };
}
