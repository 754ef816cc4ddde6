/**
 * The witness's verdict with the arbiter's word (engine/control/monitor/witness.ts): a site whose
 * agent still renews to the arbiter is not lost, whatever the peer could not reach.
 */
import { describe, expect, it } from 'vitest';
import type { WitnessVerdictRecord } from '../../engine/control/monitor/keys.ts';
import { withArbiter } from '../../engine/control/monitor/witness.ts';

const unreachable: WitnessVerdictRecord = {
  askId: 'm:1',
  verdict: 'unreachable',
  by: 'peer',
  from: 'dc-west',
  detail: 'TCP h:1: ECONNREFUSED',
};

describe('the witness verdict with the arbiter', () => {
  it('keeps the peer verdict without an arbiter', () => {
    expect(withArbiter(unreachable, undefined, 3000, 'm:1')).toBe(unreachable);
  });

  it('is unreachable only when the arbiter has not heard the site within the lease', () => {
    expect(
      withArbiter(unreachable, { site: 'dc-east', heard: true, lastHeardAgoMs: 500 }, 3000, 'm:1').verdict,
    ).toBe('reachable');
    const lost = withArbiter(
      unreachable,
      { site: 'dc-east', heard: true, lastHeardAgoMs: 3500 },
      3000,
      'm:1',
    );
    expect(lost).toMatchObject({ verdict: 'unreachable', by: 'arbiter' });
    expect(lost.detail).toContain('dc-west: TCP h:1');
    expect(withArbiter(unreachable, { site: 'dc-east', heard: false }, 3000, 'm:1').verdict).toBe(
      'unreachable',
    );
  });

  it('gives no verdict of loss when the arbiter does not answer', () => {
    expect(withArbiter(unreachable, 'silent', 3000, 'm:1').verdict).toBe('reachable');
    expect(withArbiter(undefined, 'silent', 3000, 'm:1').verdict).toBe('reachable');
  });

  it('never turns a reachable peer verdict into a loss', () => {
    const reachable = { ...unreachable, verdict: 'reachable' as const };
    expect(withArbiter(reachable, { site: 'dc-east', heard: false }, 3000, 'm:1').verdict).toBe('reachable');
  });
});
