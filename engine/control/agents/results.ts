/**
 * Taking an agent's post of reports (and progress of running units): each is checked against the
 * unit as the control plane handed it (checks.ts) — the copy in memory when a relay of this control
 * plane waits for it, else the one in Redis — then all are recorded in one script that re-checks
 * the session and that every unit is still handed to it (handing.ts RECORD). What fails refuses the
 * whole post, with nothing recorded.
 */
import type { HandedUnit, UnitProgress, UnitReport } from '../../contract/index.ts';
import {
  dataOf,
  eventsRefusal,
  handedTo,
  type Refusal,
  recordRefusal,
  refusedError,
  reportRefusal,
} from './checks.ts';
import type { AgentHub } from './hub.ts';

export interface ReportsPost {
  site: string;
  session: string;
  results: readonly UnitReport[];
  progress: readonly UnitProgress[];
}

export async function acceptReports(
  hub: AgentHub,
  post: ReportsPost,
  log: { warn(o: object, msg: string): void },
): Promise<{ accepted: number; duplicates: number }> {
  const { site, session, results, progress } = post;
  const ids = [...results.map((r) => r.unit), ...progress.map((p) => p.unit)];
  const here = ids.map((id) => hub.handedHere(site, id));
  const elsewhere = ids.filter((_, i) => here[i] === undefined);
  const read = elsewhere.length > 0 ? await hub.handing.read(site, elsewhere) : [];
  let next = 0;
  const units: (HandedUnit | undefined)[] = here.map((unit) => unit ?? read[next++]?.unit);
  const refusals: Refusal[] = [];
  results.forEach((report, i) => {
    const unit = units[i];
    const refusal =
      unit === undefined ? handedTo(site, session, report.unit, undefined) : reportRefusal(unit, report);
    if (refusal) refusals.push(refusal);
  });
  progress.forEach((running, i) => {
    const unit = units[results.length + i];
    const refusal =
      unit === undefined
        ? handedTo(site, session, running.unit, undefined)
        : eventsRefusal(running.unit, dataOf(unit), running.events);
    if (refusal) refusals.push(refusal);
  });
  if (refusals.length > 0) await refuseWhole(hub, post, refusals, log);

  const refuseRecord = async (statuses: { status: string; units: string[] }, checked: readonly string[]) => {
    await hub.sessions.refuse(site, session, statuses.status);
    const bad: Refusal[] = [];
    statuses.units.forEach((status, i) => {
      if (status !== 'gone' && status !== 'other') return;
      const refusal = recordRefusal(site, session, checked[i] ?? '', status);
      if (refusal) bad.push(refusal);
    });
    if (bad.length > 0) {
      log.warn({ site, refused: bad }, 'agent reports refused');
      throw refusedError(site, bad);
    }
  };
  if (progress.length > 0) {
    // Running units' events first, once they are known handed to this session: a report that
    // follows (here or in a later post) comes after them.
    await refuseRecord(await hub.handing.record(site, session, [], ids), ids);
    await hub.streams.appendEvents(progress.flatMap((p) => p.events));
  }
  if (results.length === 0) return { accepted: 0, duplicates: 0 };
  const resultIds = results.map((r) => r.unit);
  // The message that says they are recorded need not be read back here.
  hub.recording(resultIds, true);
  try {
    const recorded = await hub.handing.record(site, session, results);
    await refuseRecord(recorded, resultIds);
    let accepted = 0;
    let duplicates = 0;
    results.forEach((report, i) => {
      if (recorded.units[i] === 'new') {
        accepted += 1;
        hub.accepted(site, report);
      } else duplicates += 1;
    });
    return { accepted, duplicates };
  } finally {
    hub.recording(resultIds, false);
  }
}

/**
 * A post with a refused report: worded as the stored units say (the session first, then whether
 * each unit is handed to it, then its content), so a refusal reads the same whichever control
 * plane took the post.
 */
async function refuseWhole(
  hub: AgentHub,
  post: ReportsPost,
  found: readonly Refusal[],
  log: { warn(o: object, msg: string): void },
): Promise<never> {
  const { site, session, results, progress } = post;
  const ids = [...results.map((r) => r.unit), ...progress.map((p) => p.unit)];
  const [, entries] = await Promise.all([hub.sessions.touch(site, session), hub.handing.read(site, ids)]);
  const refusals: Refusal[] = [];
  results.forEach((report, i) => {
    const entry = entries[i];
    const refusal =
      handedTo(site, session, report.unit, entry) ?? (entry && reportRefusal(entry.unit, report));
    if (refusal) refusals.push(refusal);
  });
  progress.forEach((running, i) => {
    const entry = entries[results.length + i];
    const refusal =
      handedTo(site, session, running.unit, entry) ??
      (entry && eventsRefusal(running.unit, dataOf(entry.unit), running.events));
    if (refusal) refusals.push(refusal);
  });
  const all = refusals.length > 0 ? refusals : found;
  log.warn({ site, refused: all }, 'agent reports refused');
  throw refusedError(site, all);
}
