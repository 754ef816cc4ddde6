import type { HostErrorCode } from './driver.ts';

/** Every code a host driver may throw, in the order of HostErrorCode. */
export const HOST_ERROR_CODES: readonly HostErrorCode[] = [
  'VM_NOT_FOUND',
  'SITE_NOT_FOUND',
  'SITE_UNREACHABLE',
  'HOST_DOWN',
  'INVALID_STATE',
  'STALE_EPOCH',
  'START_BARRED',
  'HOST_BOOT_LIMIT',
  'INSUFFICIENT_CAPACITY',
  'NO_RECOVERY_POINT',
  'NETWORK_NOT_FOUND',
  'BAD_REQUEST',
];

/** Codes after which the same call may succeed later (a boot slot frees up, the site answers again). */
export const RETRYABLE_HOST_ERRORS: ReadonlySet<HostErrorCode> = new Set([
  'HOST_BOOT_LIMIT',
  'SITE_UNREACHABLE',
  'HOST_DOWN',
]);

const CODES: ReadonlySet<string> = new Set(HOST_ERROR_CODES);

export function isHostErrorCode(value: unknown): value is HostErrorCode {
  return typeof value === 'string' && CODES.has(value);
}
