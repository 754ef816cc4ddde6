/**
 * Webhook subscriptions in the vault: a URL, the event types it wants (none named: all) and the
 * secret its deliveries are signed with (kept in the vault, shown once when created).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DrError, InputError } from '../../common/index.ts';
import { type NotificationType, NotificationTypeSchema } from './events.ts';
import { notifyKeys } from './keys.ts';

/** Why `text` is not a URL a webhook may be sent to, or undefined when it is one. */
export function webhookUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not a URL; give an http:// or https:// URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `'${text}' is a ${url.protocol.replace(':', '')} URL; webhooks are sent over http:// or https:// only`;
  if (url.username !== '' || url.password !== '')
    return `'${url.host}' carries credentials in the URL; put none there (deliveries are signed with the secret)`;
  return undefined;
}

export const WebhookUrlSchema = z
  .string()
  .max(2048)
  .superRefine((text, check) => {
    const problem = webhookUrlProblem(text);
    if (problem !== undefined) check.addIssue({ code: 'custom', message: problem });
  });

/** Smallest secret accepted (bytes of text). */
export const SECRET_MIN = 16;

export const SubscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(NotificationTypeSchema).describe('the types delivered; empty: every type'),
    createdAt: z.string(),
    by: z.string(),
  })
  .meta({ id: 'NotificationSubscription' });
export type Subscription = z.infer<typeof SubscriptionSchema>;

/** A subscription as stored: with its secret. */
export interface StoredSubscription extends Subscription {
  secret: string;
}

export interface SubscriptionStore {
  add(input: { url: string; events?: readonly NotificationType[]; secret?: string; by: string }): Promise<{
    subscription: Subscription;
    secret: string;
  }>;
  list(): Promise<StoredSubscription[]>;
  get(id: string): Promise<StoredSubscription>;
  remove(id: string): Promise<void>;
}

const StoredSchema = SubscriptionSchema.extend({ secret: z.string() });

export function createSubscriptionStore(redis: Redis, prefix: string): SubscriptionStore {
  const keys = notifyKeys(prefix);
  const parse = (id: string, json: string): StoredSubscription => {
    const parsed = StoredSchema.safeParse(JSON.parse(json));
    if (!parsed.success)
      throw new DrError(
        'NOTIFY_CORRUPT',
        `subscription ${id} in the vault is unreadable; remove it and add it again`,
      );
    return parsed.data;
  };
  return {
    async add(input) {
      const problem = webhookUrlProblem(input.url);
      if (problem !== undefined) throw new InputError('NOTIFY_BAD_URL', `url: ${problem}`);
      if (input.secret !== undefined && input.secret.length < SECRET_MIN)
        throw new InputError('NOTIFY_WEAK_SECRET', `secret: at least ${SECRET_MIN} characters`);
      const secret = input.secret ?? randomBytes(32).toString('base64url');
      const subscription: Subscription = {
        id: `sub-${randomBytes(6).toString('hex')}`,
        url: input.url,
        events: [...new Set(input.events ?? [])],
        createdAt: new Date().toISOString(),
        by: input.by,
      };
      await redis.hset(keys.subs, subscription.id, JSON.stringify({ ...subscription, secret }));
      return { subscription, secret };
    },
    async list() {
      const all = await redis.hgetall(keys.subs);
      return Object.entries(all)
        .map(([id, json]) => parse(id, json))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    async get(id) {
      const json = await redis.hget(keys.subs, id);
      if (json === null)
        throw new DrError(
          'NOTIFY_SUBSCRIPTION_NOT_FOUND',
          `no subscription '${id}'; drctl notify list shows them`,
        );
      return parse(id, json);
    },
    async remove(id) {
      const removed = await redis.hdel(keys.subs, id);
      if (removed === 0)
        throw new DrError(
          'NOTIFY_SUBSCRIPTION_NOT_FOUND',
          `no subscription '${id}'; drctl notify list shows them`,
        );
      await redis.del(keys.status(id), keys.pending(id));
    },
  };
}

/** Whether a subscription wants notifications of `type`. */
export function wants(subscription: Subscription, type: string): boolean {
  return subscription.events.length === 0 || (subscription.events as string[]).includes(type);
}
