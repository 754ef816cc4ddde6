/**
 * The notifications the site monitor and automatic failover raise, built the same way wherever
 * they are raised: pass the result to `notify()` (Notifications.notify). The occurrence names the
 * transition (site and the monitor's transition counter, or plan and execution), so the monitor
 * leader raising it again after a restart, or a second control plane, delivers it once.
 */
import type { NotificationEvent } from './events.ts';

export type SiteVerdict = 'suspect' | 'lost' | 'returned';

export interface SiteTransition {
  site: string;
  verdict: SiteVerdict;
  /**
   * Names this transition among the site's: e.g. the lease's renewal counter or the site
   * machine's transition count when it changed state. The same transition, the same value.
   */
  transition: string | number;
  at?: string;
  /** What the monitor saw (missed renewals, the witness's verdict, the arbiter): metadata only. */
  details?: Record<string, unknown>;
}

const SITE_SUMMARY: Record<SiteVerdict, (site: string) => string> = {
  suspect: (site) => `site ${site} is suspect: its lease renewals are missing`,
  lost: (site) => `site ${site} is lost: its lease expired and the witness cannot reach it`,
  returned: (site) => `site ${site} returned: its agent renews its lease again`,
};

export function siteNotification(transition: SiteTransition): NotificationEvent {
  return {
    type: `site.${transition.verdict}`,
    occurrence: `${transition.site}/${transition.transition}`,
    ...(transition.at === undefined ? {} : { at: transition.at }),
    subject: { site: transition.site },
    summary: SITE_SUMMARY[transition.verdict](transition.site),
    details: transition.details ?? {},
  };
}

export type AutoFailoverStage = 'armed' | 'vetoed' | 'started' | 'finished' | 'refused';

export interface AutoFailoverChange {
  plan: string;
  stage: AutoFailoverStage;
  /**
   * Names this occurrence: the arming's id or counter for armed, the execution for
   * vetoed/started/finished, the decision for refused.
   */
  occurrence: string;
  site?: string;
  execution?: string;
  /** Who armed or vetoed it; why it was refused (beyond maxDataLoss, no guard...). */
  by?: string;
  reason?: string;
  at?: string;
  details?: Record<string, unknown>;
}

export function autoFailoverNotification(change: AutoFailoverChange): NotificationEvent {
  const who = change.by === undefined ? '' : ` by ${change.by}`;
  const why = change.reason === undefined ? '' : `: ${change.reason}`;
  const where = change.site === undefined ? '' : ` (site ${change.site})`;
  const summaries: Record<AutoFailoverStage, string> = {
    armed: `automatic failover of ${change.plan} armed${who}${where}`,
    vetoed: `automatic failover of ${change.plan} vetoed${who}${why}`,
    started: `automatic failover of ${change.plan} started${where}${change.execution === undefined ? '' : `: execution ${change.execution}`}`,
    finished: `automatic failover of ${change.plan} finished${change.execution === undefined ? '' : ` (${change.execution})`}${why}`,
    refused: `automatic failover of ${change.plan} refused${why}; a person must decide`,
  };
  return {
    type: `auto-failover.${change.stage}`,
    occurrence: `${change.plan}/${change.occurrence}`,
    ...(change.at === undefined ? {} : { at: change.at }),
    subject: {
      plan: change.plan,
      ...(change.site === undefined ? {} : { site: change.site }),
      ...(change.execution === undefined ? {} : { execution: change.execution }),
    },
    summary: summaries[change.stage],
    details: {
      ...(change.by === undefined ? {} : { by: change.by }),
      ...(change.reason === undefined ? {} : { reason: change.reason }),
      ...change.details,
    },
  };
}

/** A certificate that expires within its warning window (vault CA, agents' client certificates). */
export function certificateNotification(certificate: {
  subject: string;
  serial: string;
  notAfter: string;
  site?: string;
}): NotificationEvent {
  return {
    type: 'certificate.expiring',
    occurrence: `${certificate.serial}/${certificate.notAfter}`,
    subject: certificate.site === undefined ? {} : { site: certificate.site },
    summary: `certificate ${certificate.subject} (serial ${certificate.serial}) expires ${certificate.notAfter}`,
    details: { ...certificate },
  };
}
