/**
 * The token gate decides by the route a request reaches, and only an origin-form target gets that
 * far. Regression (security review): an absolute-form target (`GET https://x/api/v1/audit`) was
 * routed to the route its path names while the gate, looking at the raw target, let it through
 * without a token and the audit log skipped it.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactArgv } from '../../engine/cli/crash-log.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { silent } from '../engine/support.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/** One raw HTTP/1.1 request (the target exactly as given); the status line's code. */
function rawStatus(url: string, requestLine: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`${requestLine}\r\nHost: ${hostname}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('the request target', { timeout: 60_000 }, () => {
  let control: ControlPlane;
  beforeAll(async () => {
    control = await startControlPlane({
      redisUrl: testRedisUrl(),
      prefix: uniquePrefix('target'),
      port: 0,
      routes: controlRoutes,
      logger: silent,
    });
  }, 30_000);
  afterAll(async () => {
    await control?.close(2000);
  });

  it('refuses an absolute-form target (400) instead of routing it past the token gate', async () => {
    for (const line of [
      'GET https://x/api/v1/audit HTTP/1.1',
      'GET http://x/api/v1/executions HTTP/1.1',
      'POST https://x/api/v1/locks/release HTTP/1.1',
    ]) {
      expect(await rawStatus(control.url, line), line).toBe(400);
    }
    // The same paths in origin form still need a token.
    expect(await rawStatus(control.url, 'GET /api/v1/audit HTTP/1.1')).toBe(401);
  });
});

describe('the crash log', () => {
  it('keeps no credential of the command line', () => {
    expect(
      redactArgv([
        'agent',
        '--register',
        'drk1.dc-east.s3cr3t.ab12',
        '--token=drt_0123456789abcdef_x',
        'token',
        'revoke',
        'drt_0123456789abcdef_yyy',
        '--site',
        'dc-east',
      ]),
    ).toEqual([
      'agent',
      '--register',
      '<redacted>',
      '--token=<redacted>',
      'token',
      'revoke',
      '<redacted>',
      '--site',
      'dc-east',
    ]);
  });
});
