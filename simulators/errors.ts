import { DrError } from '../engine/common/index.ts';
import { isHostErrorCode, RETRYABLE_HOST_ERRORS } from '../engine/hosts/index.ts';
import type { SimErrorCode } from './api.ts';

/**
 * The simulated Hyper-V error: a stable `code`, the VM and site it concerns, and whether a retry
 * may succeed. Thrown identically in-process and, re-created by the client, over HTTP.
 */
export class SimError extends DrError {
  override readonly code: SimErrorCode;

  constructor(code: SimErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, {
      retryable: RETRYABLE_HOST_ERRORS.has(code),
      exitCode: code === 'BAD_REQUEST' ? 2 : 1,
      details,
    });
    this.name = 'SimError';
    this.code = code;
  }

  toJSON(): { code: SimErrorCode; message: string; retryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

export const isSimErrorCode = isHostErrorCode;

/** HTTP status for an error code: what a management endpoint would answer. */
export function httpStatusFor(code: SimErrorCode): number {
  switch (code) {
    case 'VM_NOT_FOUND':
    case 'SITE_NOT_FOUND':
    case 'NETWORK_NOT_FOUND':
      return 404;
    case 'INVALID_STATE':
    case 'STALE_EPOCH':
    case 'START_BARRED':
    case 'NO_RECOVERY_POINT':
      return 409;
    case 'HOST_BOOT_LIMIT':
      return 429;
    case 'INSUFFICIENT_CAPACITY':
      return 507;
    case 'SITE_UNREACHABLE':
    case 'HOST_DOWN':
      return 503;
    case 'BAD_REQUEST':
      return 400;
  }
}
