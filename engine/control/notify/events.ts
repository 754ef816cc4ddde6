/**
 * What a notification says: its type (one of NOTIFICATION_TYPES), what it is about and a line a
 * person can read. Only metadata: names, states, times and error codes, never disk data.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The events a subscription may ask for.
 * - `site.suspect`, `site.lost`, `site.returned`: the site monitor's verdicts on a site's lease.
 * - `auto-failover.armed|vetoed|started|finished|refused`: automatic failover of a plan (refused:
 *   beyond `maxDataLoss`, no working guard, ...; a person must decide).
 * - `step.waiting-manual`: a manual action waits for `drctl approve`.
 * - `step.failed`: a step failed for good (its retries spent) or was paused for an operator.
 * - `health.critical`: a VM's replication health became Critical.
 * - `rpo.beyond-target`: a VM's RPO went beyond the `targets.rpo` of a plan it is in.
 * - `drill.overdue`: a drill ran past its plan's `drill.maxDuration`.
 * - `certificate.expiring`: a certificate of the vault or an agent expires soon.
 */
export const NOTIFICATION_TYPES = [
  'site.suspect',
  'site.lost',
  'site.returned',
  'auto-failover.armed',
  'auto-failover.vetoed',
  'auto-failover.started',
  'auto-failover.finished',
  'auto-failover.refused',
  'step.waiting-manual',
  'step.failed',
  'health.critical',
  'rpo.beyond-target',
  'drill.overdue',
  'certificate.expiring',
] as const;

export const NotificationTypeSchema = z
  .enum(NOTIFICATION_TYPES)
  .meta({ id: 'NotificationType', description: 'the event a notification tells of' });
export type NotificationType = z.infer<typeof NotificationTypeSchema>;

/** A `test` delivery (`drctl notify test`) carries this type; no subscription can ask for it. */
export const TEST_TYPE = 'notification.test';

export const NotificationSubjectSchema = z
  .object({
    site: z.string().optional(),
    plan: z.string().optional(),
    execution: z.string().optional(),
    step: z.string().optional(),
    vm: z.string().optional(),
  })
  .meta({ id: 'NotificationSubject' });

/** The body every delivery POSTs (JSON). */
export const NotificationPayloadSchema = z
  .object({
    id: z.string().describe('the notification: the same in every retry, also the Idempotency-Key'),
    type: z.union([NotificationTypeSchema, z.literal(TEST_TYPE)]),
    at: z.string().describe('when it happened (ISO 8601)'),
    subject: NotificationSubjectSchema,
    summary: z.string().describe('one line a person can read'),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'NotificationPayload' });
export type NotificationPayload = z.infer<typeof NotificationPayloadSchema>;

/** What a producer raises (notify()). */
export interface NotificationEvent {
  type: NotificationType;
  /**
   * Names the occurrence: the same occurrence raised twice (two control planes, a retry, a
   * resumed execution) gives the same key and is delivered once. E.g. `<execution>/<step>/<attempt>`.
   */
  occurrence: string;
  /** @defaultValue now */
  at?: string;
  subject: z.infer<typeof NotificationSubjectSchema>;
  summary: string;
  details?: Record<string, unknown>;
}

/** The notification id of an occurrence: deterministic, safe in a BullMQ job id (no `:`). */
export function notificationId(type: string, occurrence: string): string {
  return `n-${createHash('sha256').update(`${type}\n${occurrence}`).digest('hex').slice(0, 32)}`;
}

export function payloadOf(event: NotificationEvent, now: () => number = Date.now): NotificationPayload {
  return {
    id: notificationId(event.type, event.occurrence),
    type: event.type,
    at: event.at ?? new Date(now()).toISOString(),
    subject: event.subject,
    summary: event.summary,
    details: event.details ?? {},
  };
}
