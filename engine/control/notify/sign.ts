/**
 * A delivery's signature: `X-DR-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
 * with `X-DR-Timestamp: <unix seconds>` of the attempt. The timestamp is inside the MAC, so a
 * receiver that refuses timestamps older than a few minutes refuses replays (a replayed request
 * with a fresh timestamp no longer verifies); the Idempotency-Key tells retries apart from new
 * notifications. README.md ("Notifications") shows a receiver's check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-dr-signature';
export const TIMESTAMP_HEADER = 'x-dr-timestamp';

export function signDelivery(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * A receiver's check: the signature matches the raw body and timestamp, and the timestamp is
 * within `toleranceS` of `nowMs`.
 * @param toleranceS @defaultValue 300
 */
export function verifyDelivery(
  secret: string,
  rawBody: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  options: { toleranceS?: number; nowMs?: number } = {},
): VerifyResult {
  const timestamp = Number(headers.timestamp);
  if (!Number.isSafeInteger(timestamp)) return { ok: false, reason: 'no or bad X-DR-Timestamp' };
  const age = Math.abs((options.nowMs ?? Date.now()) / 1000 - timestamp);
  if (age > (options.toleranceS ?? 300)) return { ok: false, reason: `timestamp ${Math.round(age)}s old` };
  const expected = Buffer.from(signDelivery(secret, timestamp, rawBody));
  const given = Buffer.from(headers.signature ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
