/**
 * A control plane's notifications: the producer (notify(), for every part that raises one), the
 * deliverer (a worker of the shared `notify` queue) and the engine's own sources (executions'
 * notices, the inventory's changes). `drctl serve` starts one per process; several share the queue.
 */
import type { ExecutionNotice } from '../../executor/index.ts';
import { type Deliverer, type DelivererOptions, startDeliverer } from './deliverer.ts';
import type { NotificationEvent } from './events.ts';
import { eventOfNotice } from './from-engine.ts';
import { createInventoryWatch, type InventoryWatch } from './inventory-watch.ts';
import { createNotifier, type Notifier, type RaiseResult } from './producer.ts';

export interface Notifications {
  /** Raise one occurrence (the site monitor's and auto-failover's producer API). */
  notify(event: NotificationEvent): Promise<RaiseResult>;
  readonly notifier: Notifier;
  readonly inventory: InventoryWatch;
  /** The orchestrator's OrchestratorOptions.onNotices. */
  onNotices(notices: readonly ExecutionNotice[]): Promise<void>;
  close(timeoutMs?: number): Promise<void>;
}

/** The deliverer's options (deliverer.ts), and whether this process runs one. */
export interface NotificationsOptions extends Omit<DelivererOptions, 'concurrency'> {
  /** Run no deliverer in this process (only raise). @defaultValue true */
  deliver?: boolean;
}

export async function startNotifications(options: NotificationsOptions): Promise<Notifications> {
  const log = options.log.child({ part: 'notify' });
  const notifier = createNotifier({
    redisUrl: options.redisUrl,
    redis: options.redis,
    prefix: options.prefix,
    log,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  let deliverer: Deliverer | undefined;
  if (options.deliver ?? true) {
    const { deliver: _deliver, ...delivery } = options;
    deliverer = await startDeliverer({ ...delivery, log });
  }
  const notify = (event: NotificationEvent) => notifier.notify(event);
  return {
    notify,
    notifier,
    inventory: createInventoryWatch({ redis: options.redis, prefix: options.prefix, notify, log }),
    async onNotices(notices) {
      for (const notice of notices) await notify(eventOfNotice(notice));
    },
    async close(timeoutMs = 10_000) {
      await deliverer?.close(timeoutMs);
      await notifier.close();
    },
  };
}
