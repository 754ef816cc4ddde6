/**
 * Regression tests of the security review of the CLI's and agents' HTTP client: no redirect is
 * followed, no call waits forever, no answer is read past a cap.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiRequester } from '../../engine/client/index.ts';

describe('the control plane requester', () => {
  let server: Server;
  let url = '';
  const bodiesAtTarget: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        switch (request.url) {
          case '/moved':
            response.writeHead(307, { location: '/elsewhere' });
            return response.end();
          case '/elsewhere':
            bodiesAtTarget.push(body);
            return response.end('{}');
          case '/silent':
            return; // never answers
          case '/big':
            response.writeHead(200, { 'content-type': 'application/json' });
            return response.end(JSON.stringify({ pad: 'x'.repeat(4096) }));
          case '/big-chunked':
            response.writeHead(200, { 'content-type': 'application/json' });
            response.write('{"pad":"');
            response.write('x'.repeat(4096));
            return response.end('"}');
          default:
            return response.end(JSON.stringify({ ok: true }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('does not follow a redirect, so the body is not resent elsewhere', async () => {
    const request = createApiRequester(url);
    await expect(request('POST', '/moved', { body: { plan: 'secret yaml' } })).rejects.toMatchObject({
      code: 'SERVER_REDIRECT',
    });
    expect(bodiesAtTarget).toEqual([]);
  });

  it('gives up on a control plane that never answers, saying so', async () => {
    const request = createApiRequester(url, { timeoutMs: 200 });
    await expect(request('GET', '/silent')).rejects.toMatchObject({
      code: 'SERVER_TIMEOUT',
      retryable: true,
    });
  });

  it("still stops when the caller's signal aborts", async () => {
    const request = createApiRequester(url);
    const caller = new AbortController();
    const call = request('GET', '/silent', { signal: caller.signal });
    caller.abort();
    await expect(call).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it.each(['/big', '/big-chunked'])('refuses an answer over its byte cap (%s)', async (path) => {
    const request = createApiRequester(url, { maxResponseBytes: 1024 });
    await expect(request('GET', path)).rejects.toMatchObject({
      code: 'RESPONSE_TOO_LARGE',
      message: expect.stringContaining('larger than 1024 bytes'),
    });
  });

  it('reads an answer under its cap', async () => {
    const request = createApiRequester(url, { maxResponseBytes: 1024 });
    await expect(request('GET', '/ok')).resolves.toEqual({ ok: true });
  });
});
