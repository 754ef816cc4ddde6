/**
 * The site lease's settings are refused at configuration with a clear located error, never
 * adjusted: a failsafe lease shorter than twice the fence time, a bad peer address, an arbiter
 * without its CA file.
 */
import { describe, expect, it } from 'vitest';
import { drctl } from '../cli/support.ts';

const agent = (extra: string[]) =>
  drctl([
    'agent',
    '--site',
    'dc-east',
    '--hosts',
    'http://127.0.0.1:1',
    '--server',
    'http://127.0.0.1:1',
    ...extra,
  ]);

describe('the site lease settings', { timeout: 60_000 }, () => {
  it('refuses a failsafe lease shorter than twice the fence time, exit 2, in one line', async () => {
    const run = await agent(['--failsafe', '--site-lease-ms', '1500', '--fence-time-ms', '1000']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /--site-lease-ms \/ --fence-time-ms: the site lease \(1500 ms\) is shorter than twice the fence time \(1000 ms\)/,
    );
    expect(run.stderr).toMatch(/at least 2000 ms/);
  });

  it('refuses a peer listener or host endpoint that is not host:port', async () => {
    const listen = await agent(['--peer-listen', 'nowhere']);
    expect(listen.code).not.toBe(0);
    expect(listen.stderr).toMatch(/--peer-listen.*expected host:port, got "nowhere"/);
    const host = await agent(['--host-endpoint', 'h:99999999']);
    expect(host.stderr).toMatch(/--host-endpoint.*expected host:port/);
  });

  it('refuses an arbiter whose CA file holds no certificate', async () => {
    const run = await drctl(['arbiter', '--port', '0', '--vault-ca', '/nonexistent/ca.pem']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^drctl: --vault-ca \/nonexistent\/ca.pem: ENOENT/);
  });
});
