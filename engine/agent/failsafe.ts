/**
 * The agent's failsafe (issue 13), after Patroni's failsafe mode: the decision of when an agent
 * fences its own site, as a pure function of its monotonic clock. The agent renews its site's lease
 * on three paths: the control plane directly, the peer site's agent (which relays the signed
 * renewal to the control plane) and, when there is one, the arbiter. Each path that acknowledges a
 * renewal is a contact, timed from when the agent *sent* that renewal (never from the answer: a
 * renewal sent before a pause and answered after it extends nothing). The lease is held while the
 * latest contact on any path is younger than the lease; the agent fences at the lease minus its
 * measured fence time, so that its primaries are off before the control plane's count of the same
 * lease (from receipt, never earlier than sending) runs out. Hence:
 * - a cut control-plane link of one site alone: the peer still acknowledges, nobody fences;
 * - a control-plane outage seen by both sites, which still see each other: nobody fences;
 * - a site cut off from everything: it fences itself at lease − fence time.
 *
 * A paused agent (SIGSTOP, a frozen VM) that wakes finds on the monotonic clock that its lease ran
 * out while it slept: it must not act on the old lease, so it renews first (`renew-first`), once,
 * and fences if nothing acknowledges that fresh renewal.
 */

export interface FailsafeConfig {
  /** The site's lease (the control plane's `leaseMs`). */
  leaseMs: number;
  /** How long turning the site's primaries off takes (measured, at least the configured floor). */
  fenceMs: number;
}

/** The configuration's rule, with a clear reason: a lease shorter than twice the fence time is refused. */
export function failsafeConfigIssue(config: FailsafeConfig): string | undefined {
  if (!Number.isFinite(config.leaseMs) || config.leaseMs <= 0)
    return `the site lease must be a positive number of milliseconds (got ${config.leaseMs})`;
  if (!Number.isFinite(config.fenceMs) || config.fenceMs <= 0)
    return `the fence time must be a positive number of milliseconds (got ${config.fenceMs})`;
  if (config.leaseMs < 2 * config.fenceMs) {
    return `the site lease (${config.leaseMs} ms) is shorter than twice the fence time (${config.fenceMs} ms): the agent could not turn its primaries off before the control plane counts the lease out; lengthen the lease (drctl serve --site-lease-ms) to at least ${2 * config.fenceMs} ms or make fencing faster`;
  }
  return undefined;
}

export type ContactPath = 'control' | 'peer' | 'arbiter';

/** Per path, the monotonic send time of the latest renewal it acknowledged. */
export type Contacts = Partial<Record<ContactPath, number>>;

export interface FailsafeInput {
  /** Monotonic ms now. */
  now: number;
  config: FailsafeConfig;
  contacts: Contacts;
  /** When the agent started (monotonic): a fresh agent holds the lease for one lease, no more. */
  startedAt: number;
  /** When the failsafe was last evaluated (monotonic), to see a pause. */
  lastCheckAt: number;
  /** Evaluations are this far apart when the process runs (a gap much longer is a pause). */
  checkEveryMs: number;
  /** When the agent last tried to renew on every path after it woke (monotonic), if it did. */
  renewedAfterWakeAt?: number;
  /** Already fenced (nothing more to do until a contact comes back). */
  fenced: boolean;
}

export type FailsafeDecision =
  | { action: 'hold'; leaseEndsAt: number; fenceAt: number; latest?: ContactPath }
  | { action: 'renew-first'; pausedMs: number }
  | { action: 'fence'; leaseEndsAt: number; reason: string }
  | { action: 'fenced' };

/** The latest contact over all paths, and which path it was. */
export function latestContact(contacts: Contacts): { at: number; path: ContactPath } | undefined {
  let best: { at: number; path: ContactPath } | undefined;
  for (const path of ['control', 'peer', 'arbiter'] as const) {
    const at = contacts[path];
    if (at !== undefined && (best === undefined || at > best.at)) best = { at, path };
  }
  return best;
}

export function failsafeDecision(input: FailsafeInput): FailsafeDecision {
  const { now, config } = input;
  const latest = latestContact(input.contacts);
  const leaseEndsAt = Math.max(latest?.at ?? Number.NEGATIVE_INFINITY, input.startedAt) + config.leaseMs;
  const fenceAt = leaseEndsAt - config.fenceMs;
  if (now < fenceAt) {
    return { action: 'hold', leaseEndsAt, fenceAt, ...(latest === undefined ? {} : { latest: latest.path }) };
  }
  if (input.fenced) return { action: 'fenced' };
  // The process did not run for a long while (a pause): its lease is void, and what it knew of
  // its contacts is old. Renew on every path first; fence only when that fresh renewal fails too.
  const gap = now - input.lastCheckAt;
  const paused = gap > Math.max(2 * input.checkEveryMs, config.fenceMs);
  if (paused && (input.renewedAfterWakeAt === undefined || input.renewedAfterWakeAt < input.lastCheckAt)) {
    return { action: 'renew-first', pausedMs: gap };
  }
  return {
    action: 'fence',
    leaseEndsAt,
    reason:
      latest === undefined
        ? `no renewal acknowledged by the control plane, the peer site or the arbiter since the agent started ${Math.round(now - input.startedAt)} ms ago`
        : `no renewal acknowledged by the control plane, the peer site or the arbiter for ${Math.round(now - latest.at)} ms (lease ${config.leaseMs} ms, fence time ${config.fenceMs} ms; the last by the ${latest.path})`,
  };
}
