/**
 * `/api/v1/notifications`: webhook subscriptions (add, list with their deliveries' status,
 * remove) and a test delivery. The secret is answered once, by the POST that created it.
 */
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import { actorOf } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { NotificationTypeSchema } from './events.ts';
import { DeliveryStatusSchema, deliveryStatus } from './status.ts';
import {
  createSubscriptionStore,
  SECRET_MIN,
  SubscriptionSchema,
  WebhookUrlSchema,
} from './subscriptions.ts';

const SubscriptionParams = z.strictObject({
  id: z.string().regex(/^sub-[0-9a-f]{1,64}$/, 'not a subscription id'),
});

const SubscriptionView = SubscriptionSchema.extend({ status: DeliveryStatusSchema }).meta({
  id: 'NotificationSubscriptionView',
});

export function registerNotificationRoutes(app: ControlApp, ctx: ControlContext): void {
  const store = createSubscriptionStore(ctx.redis, ctx.prefix);
  const notifier = () => {
    if (ctx.notifications === undefined)
      throw new DrError(
        'NOTIFY_UNAVAILABLE',
        'this control plane runs no notifier; start it with drctl serve',
        {
          retryable: true,
        },
      );
    return ctx.notifications.notifier;
  };

  app.post(
    '/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Subscribe a webhook to notifications (the secret is answered once, here)',
        description:
          'Each delivery is a POST of a NotificationPayload with `Idempotency-Key` (the notification id, the same in every retry), `X-DR-Event`, `X-DR-Timestamp` and `X-DR-Signature: sha256=<HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.',
        body: z.strictObject({
          url: WebhookUrlSchema.describe('http:// or https:// URL the notifications are POSTed to'),
          events: z
            .array(NotificationTypeSchema)
            .max(64)
            .optional()
            .describe('the types to deliver; absent or empty: every type'),
          secret: z
            .string()
            .min(SECRET_MIN)
            .max(512)
            .optional()
            .describe('the signing secret; absent: one is generated'),
        }),
        response: {
          201: z.object({
            subscription: SubscriptionSchema,
            secret: z.string().describe('the signing secret: shown this once'),
          }),
          400: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const created = await store.add({
        url: request.body.url,
        ...(request.body.events === undefined ? {} : { events: request.body.events }),
        ...(request.body.secret === undefined ? {} : { secret: request.body.secret }),
        by: actorOf(request),
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Webhook subscriptions, each with its last delivery, failures and pending deliveries',
        response: {
          200: z.object({
            subscriptions: z.array(SubscriptionView),
            queueDepth: z
              .number()
              .int()
              .nullable()
              .describe('deliveries on the queue (null: no notifier here)'),
          }),
        },
      },
    },
    async () => {
      const subscriptions = await store.list();
      const views = await Promise.all(
        subscriptions.map(async ({ secret: _secret, ...subscription }) => ({
          ...subscription,
          status: await deliveryStatus(ctx.redis, ctx.prefix, subscription.id),
        })),
      );
      return {
        subscriptions: views,
        queueDepth: ctx.notifications === undefined ? null : await ctx.notifications.notifier.depth(),
      };
    },
  );

  app.delete(
    '/notifications/:id',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Remove a webhook subscription (its pending deliveries are dropped)',
        params: SubscriptionParams,
        response: { 200: z.object({ removed: z.string() }), 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      await store.remove(request.params.id);
      return { removed: request.params.id };
    },
  );

  app.post(
    '/notifications/:id/test',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Send a test notification (type notification.test) to one subscription',
        params: SubscriptionParams,
        response: {
          202: z.object({
            id: z.string().describe('the test notification id'),
            deliveries: z.number().int(),
          }),
          400: ProblemSchema,
          404: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await notifier().test(request.params.id, actorOf(request));
      return reply.code(202).send({ id: result.id, deliveries: result.deliveries });
    },
  );
}
