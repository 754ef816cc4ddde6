/**
 * One site as the monitor leader sees it (issue 13), after Pacemaker booth's tickets and Patroni's
 * failsafe mode: watching (a newly elected leader) → online → suspect (renewals missed) → expired
 * (the lease is out: the witness is asked) → lost (the witness agrees and the margin has passed) →
 * failing over → failed over, and returned when the site is heard from again after it was given up.
 * `isolated` is the case the product exists to get right: the lease is out but the witness still
 * reaches the site (only the control plane's link to it is cut), so nothing happens.
 *
 * Pure, on an injected monotonic clock: every event carries `now` (the leader's own monotonic
 * milliseconds, never Redis TTLs or wall time), and a renewal is counted by its counter within the
 * agent's incarnation, so a replayed or reordered renewal extends nothing. The lease is timed from
 * when the leader received the renewal, which is never earlier than when the agent sent it: the
 * agent's own count (from sending) always ends first, so the agent has fenced itself (or is known
 * to be fenced) before the leader's expiry plus the margin (booth's acquire-after: relay delay,
 * fence time and clock drift) lets recovery start.
 *
 * A leader that has just taken over knows no renewal's receipt: it declares nothing expired before
 * it has watched a full lease (any lease granted before it started has run out by then).
 */
import { assign, not, setup, transition } from 'xstate';

export interface SiteMonitorConfig {
  /** How long a renewal keeps the site's lease. */
  leaseMs: number;
  /** Silence after which the site is suspect (renewals missed); less than the lease. */
  suspectAfterMs: number;
  /** Booth's acquire-after: wait this much past the expiry before recovery may start. */
  marginMs: number;
  /** How often an `isolated` site's witness is asked again. */
  witnessEveryMs: number;
}

/** A problem with a monitor setting, naming the field. */
export interface SiteMonitorConfigIssue {
  field: keyof SiteMonitorConfig;
  message: string;
}

/** The settings' rules: each refused with the field named, none adjusted silently. */
export function siteMonitorConfigIssues(config: SiteMonitorConfig): SiteMonitorConfigIssue[] {
  const issues: SiteMonitorConfigIssue[] = [];
  for (const field of ['leaseMs', 'suspectAfterMs', 'marginMs', 'witnessEveryMs'] as const) {
    const value = config[field];
    if (!Number.isFinite(value) || value <= 0) {
      issues.push({ field, message: `${field} must be a positive number of milliseconds (got ${value})` });
    }
  }
  if (config.suspectAfterMs >= config.leaseMs) {
    issues.push({
      field: 'suspectAfterMs',
      message: `suspectAfterMs (${config.suspectAfterMs}) must be shorter than the lease (${config.leaseMs})`,
    });
  }
  return issues;
}

/** What the witness found when it tried the site (the peer site's probe, or the arbiter's). */
export interface WitnessVerdict {
  /** `reachable`: the site's agent or hosts answered; `unreachable`: neither did. */
  verdict: 'reachable' | 'unreachable';
  by: 'peer' | 'arbiter';
  /** What was tried and how it went, for the evidence. */
  detail: string;
}

export interface RenewalSeen {
  /** The leader's monotonic ms when it received the renewal. */
  at: number;
  incarnation: string;
  counter: number;
  via: 'direct' | 'relayed';
}

export interface SiteMonitorContext {
  site: string;
  config: SiteMonitorConfig;
  /** When this leader began watching (monotonic ms). */
  watchingSince: number;
  /** The latest accepted renewal. */
  last?: RenewalSeen;
  /**
   * The highest counter seen per incarnation (a replayed or older renewal is ignored); an
   * incarnation replaced by a newer one is retired (its counter is MAX_SAFE_INTEGER): a paused agent that
   * wakes renews nothing with its old lease. The last RETIRED_KEPT are kept.
   */
  counters: Record<string, number>;
  /** The last few accepted renewals, for the evidence of an automatic failover. */
  history: RenewalSeen[];
  /** The witness's verdict about the current expiry, if it was given. */
  witness?: WitnessVerdict & { at: number };
  /** When the witness was last asked (monotonic ms). */
  witnessAskedAt?: number;
  /** When the site was declared lost. */
  lostAt?: number;
  /** The automatic failover started for this loss. */
  execution?: string;
}

export type SiteMonitorEvent =
  | { type: 'RENEWAL'; now: number; incarnation: string; counter: number; via: 'direct' | 'relayed' }
  | { type: 'TICK'; now: number }
  /** `askedAt`: the ask it answers (stepSiteMonitor's `askWitness` at that `now`); an older one is dropped. */
  | ({ type: 'WITNESS'; now: number; askedAt: number } & WitnessVerdict)
  | { type: 'FAILOVER_STARTED'; now: number; execution: string }
  | { type: 'FAILOVER_ENDED'; now: number }
  /** A person took note of a returned site (after reprotect, or deciding not to): watch it again. */
  | { type: 'ACKNOWLEDGED'; now: number };

/** Renewals kept for the evidence. */
const HISTORY = 20;
/** Incarnations remembered (the newest, and the retired ones before it). */
const RETIRED_KEPT = 16;

/** When the lease of what the leader has seen ends: from the last renewal, else a full watch. */
export function leaseEndsAt(context: SiteMonitorContext): number {
  return (context.last?.at ?? context.watchingSince) + context.config.leaseMs;
}

const isFresh = (context: SiteMonitorContext, event: SiteMonitorEvent): boolean =>
  event.type === 'RENEWAL' && event.counter > (context.counters[event.incarnation] ?? -1);

const nowOf = (event: SiteMonitorEvent): number => event.now;

export const siteMonitorMachine = setup({
  types: {
    context: {} as SiteMonitorContext,
    events: {} as SiteMonitorEvent,
    input: {} as { site: string; config: SiteMonitorConfig; now: number },
  },
  guards: {
    fresh: ({ context, event }) => isFresh(context, event),
    silentTooLong: ({ context, event }) =>
      context.last !== undefined && nowOf(event) - context.last.at >= context.config.suspectAfterMs,
    leaseOut: ({ context, event }) => nowOf(event) >= leaseEndsAt(context),
    witnessAgreesAndMarginPassed: ({ context, event }) => {
      const witness = event.type === 'WITNESS' ? event : context.witness;
      return (
        witness?.verdict === 'unreachable' && nowOf(event) >= leaseEndsAt(context) + context.config.marginMs
      );
    },
    witnessReaches: ({ event }) => event.type === 'WITNESS' && event.verdict === 'reachable',
    currentAsk: ({ context, event }) => event.type === 'WITNESS' && event.askedAt === context.witnessAskedAt,
    witnessDue: ({ context, event }) =>
      nowOf(event) - (context.witnessAskedAt ?? Number.NEGATIVE_INFINITY) >= context.config.witnessEveryMs,
  },
  actions: {
    recordRenewal: assign(({ context, event }) => {
      if (event.type !== 'RENEWAL') return {};
      const seen: RenewalSeen = {
        at: event.now,
        incarnation: event.incarnation,
        counter: event.counter,
        via: event.via,
      };
      // JSON-safe (the snapshot is persisted): MAX_SAFE_INTEGER, not Infinity, marks a retired one.
      const counters: Record<string, number> = {};
      const others = Object.keys(context.counters).filter((i) => i !== event.incarnation);
      for (const incarnation of others.slice(-RETIRED_KEPT)) {
        counters[incarnation] =
          incarnation === context.last?.incarnation
            ? Number.MAX_SAFE_INTEGER
            : (context.counters[incarnation] ?? Number.MAX_SAFE_INTEGER);
      }
      counters[event.incarnation] = event.counter;
      return {
        last: seen,
        counters,
        history: [...context.history, seen].slice(-HISTORY),
        witness: undefined,
        witnessAskedAt: undefined,
      };
    }),
    noteAsked: assign(({ event }) => ({ witnessAskedAt: nowOf(event) })),
    /** For the caller (stepSiteMonitor's `askWitness`): ask the witness, send its WITNESS back. */
    askWitness: () => {},
    keepVerdict: assign(({ event }) =>
      event.type === 'WITNESS'
        ? { witness: { verdict: event.verdict, by: event.by, detail: event.detail, at: event.now } }
        : {},
    ),
    markLost: assign(({ event }) => ({ lostAt: nowOf(event) })),
    markExecution: assign(({ event }) =>
      event.type === 'FAILOVER_STARTED' ? { execution: event.execution } : {},
    ),
    forgetLoss: assign({
      lostAt: undefined,
      execution: undefined,
      witness: undefined,
      witnessAskedAt: undefined,
    }),
  },
}).createMachine({
  id: 'site-monitor',
  context: ({ input }) => ({
    site: input.site,
    config: input.config,
    watchingSince: input.now,
    counters: {},
    history: [],
  }),
  initial: 'watching',
  states: {
    watching: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'online', actions: 'recordRenewal' },
        TICK: { guard: 'leaseOut', target: 'expired', actions: ['noteAsked', 'askWitness'] },
      },
    },
    online: {
      on: {
        RENEWAL: { guard: 'fresh', actions: 'recordRenewal' },
        TICK: [
          { guard: 'leaseOut', target: 'expired', actions: ['noteAsked', 'askWitness'] },
          { guard: 'silentTooLong', target: 'suspect' },
        ],
      },
    },
    suspect: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'online', actions: 'recordRenewal' },
        TICK: { guard: 'leaseOut', target: 'expired', actions: ['noteAsked', 'askWitness'] },
      },
    },
    expired: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'online', actions: 'recordRenewal' },
        WITNESS: [
          { guard: not('currentAsk') },
          { guard: 'witnessReaches', target: 'isolated', actions: 'keepVerdict' },
          { guard: 'witnessAgreesAndMarginPassed', target: 'lost', actions: ['keepVerdict', 'markLost'] },
          { actions: 'keepVerdict' },
        ],
        TICK: [
          { guard: 'witnessAgreesAndMarginPassed', target: 'lost', actions: 'markLost' },
          { guard: 'witnessDue', actions: ['noteAsked', 'askWitness'] },
        ],
      },
    },
    isolated: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'online', actions: 'recordRenewal' },
        WITNESS: [
          { guard: not('currentAsk') },
          { guard: 'witnessReaches', actions: 'keepVerdict' },
          { target: 'expired', actions: 'keepVerdict' },
        ],
        TICK: { guard: 'witnessDue', actions: ['noteAsked', 'askWitness'] },
      },
    },
    lost: {
      on: {
        // Heard from before anything was started: it was not lost after all (nothing was done).
        RENEWAL: { guard: 'fresh', target: 'online', actions: ['recordRenewal', 'forgetLoss'] },
        FAILOVER_STARTED: { target: 'failingOver', actions: 'markExecution' },
      },
    },
    failingOver: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'returned', actions: 'recordRenewal' },
        FAILOVER_ENDED: { target: 'failedOver' },
      },
    },
    failedOver: {
      on: {
        RENEWAL: { guard: 'fresh', target: 'returned', actions: 'recordRenewal' },
      },
    },
    returned: {
      on: {
        RENEWAL: { guard: 'fresh', actions: 'recordRenewal' },
        ACKNOWLEDGED: { target: 'online', actions: 'forgetLoss' },
      },
    },
  },
});

export type SiteMonitorState =
  | 'watching'
  | 'online'
  | 'suspect'
  | 'expired'
  | 'isolated'
  | 'lost'
  | 'failingOver'
  | 'failedOver'
  | 'returned';

/** A site's monitor as kept by the leader (plain data: the state's name and the context). */
export interface SiteMonitorSnapshot {
  state: SiteMonitorState;
  context: SiteMonitorContext;
}

export function initialSiteMonitor(
  site: string,
  config: SiteMonitorConfig,
  now: number,
): SiteMonitorSnapshot {
  const issues = siteMonitorConfigIssues(config);
  if (issues.length > 0) throw new RangeError(issues.map((i) => i.message).join('; '));
  const snapshot = siteMonitorMachine.resolveState({
    value: 'watching',
    context: { site, config, watchingSince: now, counters: {}, history: [] },
  });
  return { state: snapshot.value as SiteMonitorState, context: snapshot.context };
}

/**
 * Apply an event. `askWitness`: the caller is to ask the witness now (and send its WITNESS back);
 * `changed`: the state's name changed (a notification: suspect, lost, returned...).
 */
export function stepSiteMonitor(
  current: SiteMonitorSnapshot,
  event: SiteMonitorEvent,
): { snapshot: SiteMonitorSnapshot; changed: boolean; askWitness: boolean } {
  const resolved = siteMonitorMachine.resolveState({ value: current.state, context: current.context });
  const [next, actions] = transition(siteMonitorMachine, resolved, event);
  const state = next.value as SiteMonitorState;
  return {
    snapshot: { state, context: next.context },
    changed: state !== current.state,
    askWitness: actions.some((action) => action.type === 'askWitness'),
  };
}

/**
 * The next monotonic time at which a TICK can change something (for the caller's timer), or
 * undefined when only an event from outside (a renewal, a verdict, a failover) can.
 */
export function nextSiteMonitorDeadline(snapshot: SiteMonitorSnapshot): number | undefined {
  const { context } = snapshot;
  const { suspectAfterMs, marginMs, witnessEveryMs } = context.config;
  switch (snapshot.state) {
    case 'watching':
    case 'suspect':
      return leaseEndsAt(context);
    case 'online':
      return Math.min(leaseEndsAt(context), (context.last?.at ?? context.watchingSince) + suspectAfterMs);
    case 'expired': {
      const askAgain = (context.witnessAskedAt ?? 0) + witnessEveryMs;
      return context.witness?.verdict === 'unreachable'
        ? Math.min(askAgain, leaseEndsAt(context) + marginMs)
        : askAgain;
    }
    case 'isolated':
      return (context.witnessAskedAt ?? 0) + witnessEveryMs;
    default:
      return undefined;
  }
}
