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
