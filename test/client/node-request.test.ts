import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeApiRequester } from '../../engine/client/index.ts';
import { DrError } from '../../engine/common/index.ts';

describe("the agent's keep-alive requester", () => {
  let server: Server;
  let url = '';
  const seen: { method: string; url: string; body: string; connection: number }[] = [];
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body, connection: connections });
        if (req.url?.startsWith('/refused')) {
          res.writeHead(422, { 'content-type': 'application/problem+json' });
          res.end(
            JSON.stringify({ code: 'RESULT_NOT_OF_UNIT', detail: 'unit u: steps', details: { refused: [] } }),
          );
          return;
        }
        if (req.url?.startsWith('/slow')) return; // never answers
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }));
      });
    });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends JSON and reads the JSON answer, over one kept-alive connection', async () => {
    const request = createNodeApiRequester(url);
    expect(await request('POST', '/a', { body: { n: 1 }, query: { waitMs: 5 } })).toEqual({ echo: { n: 1 } });
    expect(await request('POST', '/b', { body: { n: 2 } })).toEqual({ echo: { n: 2 } });
    const last = seen.slice(-2);
    expect(last.map((s) => s.url)).toEqual(['/a?waitMs=5', '/b']);
    expect(last[0]?.connection).toBe(last[1]?.connection);
  });

  it('throws a problem+json answer as the DrError it names, with its status', async () => {
    const error = await createNodeApiRequester(url)('POST', '/refused', { body: {} }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrError);
    expect(error).toMatchObject({ code: 'RESULT_NOT_OF_UNIT', details: { status: 422, refused: [] } });
  });

  it('says the control plane is unreachable, retryable, when nothing listens', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    const error = await createNodeApiRequester(`http://127.0.0.1:${port}`)('GET', '/x').catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'SERVER_UNREACHABLE', retryable: true });
    expect((error as Error).message).toMatch(/connection refused/);
  });

  it('stops waiting when its signal aborts', async () => {
    const controller = new AbortController();
    const pending = createNodeApiRequester(url)('POST', '/slow', { body: {}, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
