import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
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

describe('an agent whose control plane does not answer', { timeout: 60_000 }, () => {
  // Regression: the reason was "(fetch failed)" and the agent's log carried the error's stack.
  it('says connection refused and what to start, without a stack, exit 1', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(free.address() as AddressInfo).port}`;
    await new Promise((resolve) => free.close(resolve));
    const args = ['agent', '--site', 'dc-east', '--hosts', 'http://127.0.0.1:7070', '--server', url];
    const quiet = await drctl(args);
    expect(quiet.code, quiet.stderr).toBe(1);
    expect(quiet.stderr).toBe(
      `drctl: connection refused at ${url}: is \`drctl up\` or \`drctl serve\` running? (else point --server / DR_SERVER at it)\n`,
    );
    const logged = await drctl(args, { env: { LOG_LEVEL: 'info' } });
    expect(logged.code).toBe(1);
    expect(logged.stderr).not.toMatch(/\n\s+at |"stack"/);
  });
});
