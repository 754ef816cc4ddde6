/** `drctl site maintenance --for` is checked before any call: bad input is exit 2, not "connection refused". */
import { describe, expect, it } from 'vitest';
import { drctl } from './support.ts';

describe('drctl site maintenance with a bad --for', () => {
  it('exits 2 naming the value and how to write a duration, without reaching for a server', async () => {
    const run = await drctl([
      'site',
      'maintenance',
      'dc-east',
      '--for',
      'bogus',
      '--server',
      'https://127.0.0.1:9',
    ]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.trim()).toBe(
      'drctl: --for "bogus" is not a duration: write durations like 90s, 5m, 1h30m, 500ms or 1d',
    );
  });
});
