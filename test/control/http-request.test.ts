/**
 * Regression tests of the security review of the CLI's and agents' HTTP client: no redirect is
 * followed, no call waits forever, no answer is read past a cap.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unreachable } from '../../engine/client/http-request.ts';
import { createApiRequester, createNodeApiRequester } from '../../engine/client/index.ts';

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

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const { port } = free.address() as AddressInfo;
  await new Promise((resolve) => free.close(resolve));
  return port;
}

describe('when no control plane answers', () => {
  // Regression: the message said "(fetch failed)", fetch's own outer message, not the reason.
  it('says connection refused and what to start, through fetch and node:http alike', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const expected = `connection refused at ${url}: is \`drctl up\` or \`drctl serve\` running? (else point --server / DR_SERVER at it)`;
    for (const request of [createApiRequester(url), createNodeApiRequester(url)]) {
      await expect(request('GET', '/api/v1/executions')).rejects.toMatchObject({
        code: 'SERVER_UNREACHABLE',
        retryable: true,
        message: expected,
      });
    }
  });

  it('says an unknown host is one', async () => {
    await expect(createApiRequester('http://nosuch.invalid:7080')('GET', '/x')).rejects.toMatchObject({
      message: expect.stringMatching(
        /^(unknown host|host name lookup failed) at http:\/\/nosuch\.invalid:7080: check the host name/,
      ),
    });
  });

  it('says a port fetch refuses to use is one (not "fetch failed")', async () => {
    const error = await createApiRequester('http://127.0.0.1:9')('GET', '/x').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^the port of http:\/\/127\.0\.0\.1:9 is one that HTTP clients refuse/,
    );
    expect((error as Error).message).not.toMatch(/fetch failed/);
  });

  it.each([
    [
      'a code two causes deep',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect'), {
          cause: Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:7080'), { code: 'ETIMEDOUT' }),
        }),
      }),
      /^connection timed out at http:\/\/h:1: check the host, the port and any firewall between$/,
    ],
    [
      'an AggregateError of one refusal per address',
      Object.assign(new TypeError('fetch failed'), {
        cause: new AggregateError([
          Object.assign(new Error('connect ECONNREFUSED ::1:1'), { code: 'ECONNREFUSED' }),
          Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
        ]),
      }),
      /^connection refused at http:\/\/h:1: is `drctl up`/,
    ],
    [
      "undici's connect timeout",
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
      }),
      /^connection timed out at http:\/\/h:1/,
    ],
    [
      'an unknown cause (its own words, not "fetch failed")',
      Object.assign(new TypeError('fetch failed'), { cause: new Error('something odd') }),
      /^cannot reach the control plane at http:\/\/h:1 \(something odd\): is `drctl up`/,
    ],
  ])('names the cause of %s', (_name, error, expected) => {
    const said = unreachable('http://h:1', error);
    expect(said.code).toBe('SERVER_UNREACHABLE');
    expect(said.message).toMatch(expected);
  });
});
