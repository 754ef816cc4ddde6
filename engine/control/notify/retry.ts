/** How deliveries are retried: exponential backoff from `initialDelayMs`, capped, for a while. Pure. */

export interface RetryPolicy {
  /** Delay before the second attempt; each next one doubles. @defaultValue 1_000 */
  initialDelayMs: number;
  /** Largest delay between two attempts. @defaultValue 300_000 (5 min) */
  maxDelayMs: number;
  /** Give up once the delays add up to this. @defaultValue 86_400_000 (24 h) */
  giveUpAfterMs: number;
  /** One attempt's timeout (connect to end of the answer). @defaultValue 10_000 */
  attemptTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 300_000,
  giveUpAfterMs: 86_400_000,
  attemptTimeoutMs: 10_000,
};

/** The delay after failed attempt `attempt` (1-based). */
export function retryDelayAfter(policy: RetryPolicy, attempt: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 40);
  return Math.min(policy.initialDelayMs * 2 ** exponent, policy.maxDelayMs);
}

/** How many attempts fit in `giveUpAfterMs` (at least 1): BullMQ's `attempts`. */
export function attemptsOf(policy: RetryPolicy): number {
  let total = 0;
  let attempts = 1;
  for (;;) {
    const next = retryDelayAfter(policy, attempts);
    if (total + next > policy.giveUpAfterMs || attempts >= 100_000) return attempts;
    total += next;
    attempts += 1;
  }
}

export function retryPolicyOf(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY, ...partial };
}
