/**
 * The witness's verdict with the arbiter's word (pure, issue 13). An agent holds its lease while
 * any path acknowledges its renewals, the arbiter's included (engine/agent failsafe.ts); so the
 * monitor may take "unreachable" only when the arbiter, if there is one, agrees: it did not hear
 * the site within the lease. An arbiter that does not answer the monitor could be hearing the site:
 * no verdict of loss. Without an arbiter the peer's verdict stands.
 */
import type { ArbiterSite } from '../../contract/index.ts';
import type { WitnessVerdictRecord } from './keys.ts';

/** `arbiter`: its answer, `'silent'` when it was asked and did not answer, undefined when there is none. */
export function withArbiter(
  record: WitnessVerdictRecord | undefined,
  arbiter: ArbiterSite | 'silent' | undefined,
  leaseMs: number,
  askId: string,
): WitnessVerdictRecord {
  if (arbiter === undefined) {
    return (
      record ?? {
        askId,
        verdict: 'reachable',
        by: 'peer',
        from: 'none',
        detail: 'no witness: no verdict of loss',
      }
    );
  }
  const peerSaid = record === undefined ? '' : `${record.from}: ${record.detail}; `;
  if (record?.verdict === 'reachable') return record;
  if (arbiter === 'silent') {
    return {
      askId,
      verdict: 'reachable',
      by: 'arbiter',
      from: 'arbiter',
      detail: `${peerSaid}the arbiter did not answer: no verdict of loss`,
    };
  }
  const heardRecently = arbiter.heard && (arbiter.lastHeardAgoMs ?? Number.POSITIVE_INFINITY) < leaseMs;
  return {
    askId,
    verdict: heardRecently ? 'reachable' : 'unreachable',
    by: 'arbiter',
    from: 'arbiter',
    detail: `${peerSaid}${
      arbiter.heard
        ? `the arbiter heard the site ${arbiter.lastHeardAgoMs} ms ago`
        : 'the arbiter never heard the site'
    } (lease ${leaseMs} ms)`,
  };
}
