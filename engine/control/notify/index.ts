/**
 * Notifications (issue 13): webhook subscriptions in the vault, signed deliveries retried on the
 * `notify` queue, and the events the engine raises. See ARCHITECTURE.md beside this file.
 */
export { type Deliverer, type DelivererOptions, startDeliverer } from './deliverer.ts';
export {
  NOTIFICATION_TYPES,
  type NotificationEvent,
  type NotificationPayload,
  NotificationPayloadSchema,
  type NotificationType,
  NotificationTypeSchema,
  notificationId,
  TEST_TYPE,
} from './events.ts';
export { eventOfNotice } from './from-engine.ts';
export { createInventoryWatch, type InventoryWatch } from './inventory-watch.ts';
export { deliveryJobId, NOTIFY_QUEUE, notifyKeys } from './keys.ts';
export { type Notifications, type NotificationsOptions, startNotifications } from './notifications.ts';
export { createNotifier, type Notifier, type NotifierOptions, type RaiseResult } from './producer.ts';
export { attemptsOf, DEFAULT_RETRY, type RetryPolicy, retryDelayAfter } from './retry.ts';
export { registerNotificationRoutes } from './routes.ts';
export {
  SIGNATURE_HEADER,
  signDelivery,
  TIMESTAMP_HEADER,
  type VerifyResult,
  verifyDelivery,
} from './sign.ts';
export {
  type AutoFailoverChange,
  type AutoFailoverStage,
  autoFailoverNotification,
  certificateNotification,
  type SiteTransition,
  type SiteVerdict,
  siteNotification,
} from './site-events.ts';
export { type DeliveryStatus, deliveryStatus } from './status.ts';
export {
  createSubscriptionStore,
  type Subscription,
  type SubscriptionStore,
  webhookUrlProblem,
} from './subscriptions.ts';
