/**
 * Regression test of the security review: a server's message with control characters (an ESC
 * sequence that clears the screen, a CR that rewrites the line) is printed without them.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('drctl printing a control plane error', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(422, { 'content-type': 'application/problem+json' });
      response.end(
        JSON.stringify({
          code: 'NOT_NOW',
          detail: 'refused\u001b[2J\rall is well\u0007 (see\tlog)',
          status: 422,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('strips the control characters but newlines and tabs', { timeout: 60_000 }, async () => {
    const { REDIS_URL: _redis, DR_SIM_URL: _sim, ...rest } = process.env;
    const child = spawn(process.execPath, ['bin/drctl.js', 'commit', 'run-1'], {
      env: { ...rest, LOG_LEVEL: 'silent', DR_SERVER: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(err).toContain('refused[2Jall is well (see\tlog)');
    expect(err.replace(/[\n\t]/g, '')).toMatch(/^\P{Cc}*$/u);
    expect(code).toBe(2);
  });
});
