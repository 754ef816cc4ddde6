/**
 * The notifications' keys in the vault and their BullMQ queue.
 * ```
 * <prefix>:notify:subs              HASH subscription id → JSON (with its secret)
 * <prefix>:notify:status:<sub>      HASH last delivery, counts of delivered, failed attempts, given up
 * <prefix>:notify:pending:<sub>     SET  delivery job ids not yet delivered or given up
 * <prefix>:notify:seen:<id>         STRING an occurrence already raised (expires with its jobs)
 * ```
 */
import { queuePrefix } from '../../executor/index.ts';

/** The control queue of webhook deliveries (BullMQ, under the engine's queue prefix). */
export const NOTIFY_QUEUE = 'notify';

export function notifyKeys(prefix: string) {
  return {
    subs: `${prefix}:notify:subs`,
    status: (sub: string) => `${prefix}:notify:status:${sub}`,
    pending: (sub: string) => `${prefix}:notify:pending:${sub}`,
    seen: (id: string) => `${prefix}:notify:seen:${id}`,
  };
}

export function notifyBullOptions(prefix: string): { prefix: string } {
  return { prefix: queuePrefix(prefix) };
}

/** A delivery's job id: one per (notification, subscription), so a second raise is a no-op. */
export function deliveryJobId(notification: string, subscription: string): string {
  return `${notification}.${subscription}`;
}
