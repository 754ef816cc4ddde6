import type { FailoverType, FailurePolicy, Readiness } from './types.ts';

/**
 * Every default the normalizer fills in, in one place so the README, the JSON Schema descriptions
 * and the code agree.
 */
export const DEFAULT_READINESS: Readiness = {
  checks: [{ kind: 'heartbeat' }],
  timeoutMs: 10 * 60_000,
  onTimeout: 'fail',
};

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  retries: 2,
  backoff: { initialMs: 5_000, factor: 2, maxMs: 60_000 },
  outcome: 'fail-plan',
};

/** A Hyper-V guest with integration services typically reports a heartbeat within a minute. */
export const DEFAULT_BOOT_ESTIMATE_MS = 60_000;

export const ALL_FAILOVER_TYPES: readonly FailoverType[] = ['test', 'planned', 'unplanned'];

/**
 * Action timeouts by kind: a script gets ten minutes, a webhook one, and a manual step (an operator
 * reading a runbook, calling the SAN team) four hours before the plan gives up on it.
 */
export const DEFAULT_ACTION_TIMEOUT_MS = {
  script: 10 * 60_000,
  webhook: 60_000,
  manual: 4 * 3_600_000,
} as const;

/**
 * The site lease: how long a site may be silent before it is suspected lost. Automatic failover
 * must wait at least this long, or it could start a replica while the primary still runs.
 */
export const SITE_LEASE_MS = 30_000;

export const DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS = 5 * 60_000;
export const DEFAULT_DRILL_MAX_MS = 24 * 3_600_000;

/**
 * Unplanned failover: how long the orchestrator waits for the source site's workers to fence the
 * old primaries before it records them as not fenced and fails over anyway (a source site that
 * is down has no workers to do it). Bounds keep a typo from failing over at once or never.
 */
export const DEFAULT_FENCE_DEADLINE_MS = 60_000;
export const MIN_FENCE_DEADLINE_MS = 1_000;
export const MAX_FENCE_DEADLINE_MS = 3_600_000;
