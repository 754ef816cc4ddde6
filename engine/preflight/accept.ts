import { InputError } from '../common/index.ts';
import type { BlockerCode, Finding, PreflightWarning } from './types.ts';

/**
 * Blockers an operator may accept for one run (`--accept CODE,...`), each a judgement about data
 * or service the operator can make in an emergency: fail over with Critical replication, an old
 * point, a resync pending (older points are still there), a crowded site, a dependency they know
 * about. Not NETWORK_MISSING: the failover step attaches every VM to its mapped network and fails
 * on a network the site does not have, so accepting it would only move the refusal into the run. An accepted blocker stays in the report as a warning that says so.
 *
 * Never acceptable: anything that risks a VM in two places or touching production from a drill
 * (locks, already failed over, a test VM left over, a test network that is not isolated), and
 * anything the run cannot get past anyway (missing VM, host or point, unreachable site).
 */
export const ACCEPTABLE_BLOCKERS = [
  'REPLICATION_CRITICAL',
  'REPLICATION_BEHIND',
  'RESYNC_REQUIRED',
  'RPO_NOT_MET',
  'INSUFFICIENT_CAPACITY',
  'DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING',
] as const satisfies readonly BlockerCode[];

export type AcceptableBlockerCode = (typeof ACCEPTABLE_BLOCKERS)[number];

/** Checks an `accept` list; a code that may not be accepted is bad input. */
export function checkAccept(codes: readonly string[]): AcceptableBlockerCode[] {
  const refused = codes.filter((code) => !isAcceptable(code));
  if (refused.length > 0) {
    throw new InputError(
      'PREFLIGHT_NOT_ACCEPTABLE',
      `cannot accept ${refused.join(', ')}: only ${ACCEPTABLE_BLOCKERS.join(', ')} may be accepted for a run`,
      { refused },
    );
  }
  return codes.filter(isAcceptable);
}

function isAcceptable(code: string): code is AcceptableBlockerCode {
  return (ACCEPTABLE_BLOCKERS as readonly string[]).includes(code);
}

/**
 * Turns accepted blockers into warnings. INSUFFICIENT_CAPACITY is accepted for the site's limit
 * only: a host whose replicas do not fit cannot boot them, whatever anyone accepts.
 */
export function applyAccept(findings: Finding[], accept: readonly AcceptableBlockerCode[]): Finding[] {
  if (accept.length === 0) return findings;
  const accepted = new Set<string>(accept);
  return findings.map((finding) => {
    const code = finding.code;
    if (finding.severity !== 'blocker' || !isAcceptable(code) || !accepted.has(code)) return finding;
    if (code === 'INSUFFICIENT_CAPACITY' && finding.host !== undefined) return finding;
    const warning: PreflightWarning = {
      ...finding,
      severity: 'warning',
      code,
      message: `accepted by the operator: ${finding.message}`,
      details: { ...finding.details, accepted: true },
    };
    return warning;
  });
}
