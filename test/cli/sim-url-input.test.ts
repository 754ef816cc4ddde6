import { describe, expect, it } from 'vitest';
import { drctl } from './support.ts';

describe('a --sim that is not a URL', { timeout: 60_000 }, () => {
  it.each([
    ['drill', ['drill', 'plans/examples/three-tier.yaml', '--sim', 'localhost:7070']],
    ['preflight', ['preflight', 'plans/examples/three-tier.yaml', '--sim', 'not a url']],
  ])('is bad input for %s: one line, exit 2', async (_name, args) => {
    const run = await drctl(args, { env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/is not an http\(s\) URL; give the one `drctl sim serve` prints/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a --hosts that is not a URL', { timeout: 60_000 }, () => {
  it('is bad input for agent, naming --hosts (the option agent has), not --sim', async () => {
    const run = await drctl(['agent', '--site', 'dc-east', '--hosts', 'nope'], {
      env: { DR_SERVER: 'http://127.0.0.1:1' },
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/'nope' \(--hosts or DR_SIM_URL\) is not an http\(s\) URL/);
    expect(run.stderr).not.toMatch(/--sim\b/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
