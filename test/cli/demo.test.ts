/**
 * `drctl demo` with no arguments runs the production path: the control plane and one agent per
 * site, driven over the API. The control plane's own host driver refuses every call, so the
 * drill and the failover complete only if the agents carried out their sites' steps.
 */
import { describe, expect, it } from 'vitest';
import { drctl } from './support.ts';

describe.skipIf(process.platform !== 'linux')('drctl demo', { timeout: 240_000 }, () => {
  it('says what runs, then drills, cleans up and fails over through the control plane and its agents', async () => {
    const run = await drctl(['demo']);

    expect(run.stderr).not.toMatch(/\n\s+at /);
    // No warning or error logged on the way (an agent's stop, a poll after the vault closed).
    expect(run.stderr).not.toMatch(/"level":(40|50|60)/);
    expect(run.code).toBe(0);
    const out = run.stdout;
    const engine =
      /^Engine: control plane at (https:\/\/127\.0\.0\.1:\d+) \(API over HTTPS.*one agent per site \(dc-east, dc-west\) over mutual TLS/m.exec(
        out,
      );
    expect(engine).not.toBeNull();
    expect(out).toMatch(new RegExp(`DR_SERVER=${engine?.[1]} DR_CA_FILE=\\S+/vault/ca\\.pem drctl`));
    // The order of the story, and its closing lines as before the control plane.
    const marks = [
      'Engine: ',
      '== DRILL (test failover) of erp: dc-east → dc-west ==',
      'pre-flight ok: 4 VMs → dc-west',
      ': awaiting-cleanup; achieved RTO',
      '== CLEANUP of drill-',
      'test VMs left: 0; mutating calls on production during the drill: 0',
      '== PLANNED FAILOVER of erp: dc-east → dc-west ==',
      'data loss (claimed): sql-01 0.0s, app-01 0.0s, app-02 0.0s, web-01 0.0s',
      ': completed; achieved RTO',
      'primaries now: sql-01@dc-west, app-01@dc-west, app-02@dc-west, web-01@dc-west; split-brain intervals: 0',
      'lost writes sql-01 0, app-01 0, app-02 0, web-01 0',
      'demo done in ',
    ];
    const at = marks.map((mark) => out.indexOf(mark));
    expect(at.map((i, n) => (i < 0 ? `missing: ${marks[n]}` : 'ok'))).toEqual(marks.map(() => 'ok'));
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // The webhook went to the demo's own receiver through the control plane's actions queue.
    expect(out).toMatch(/step action\/notify-oncall done/);
  });
});
