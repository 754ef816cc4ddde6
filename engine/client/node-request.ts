/**
 * The same requester as http-request.ts on node:http(s) with keep-alive connections instead of the
 * global fetch: what an agent uses, whose every unit costs a poll answer and a results post (fetch
 * took about four times the CPU per request; BENCHMARKS.md). Answers and errors are read exactly as
 * there: JSON, problem+json as the DrError it names, no answer as SERVER_UNREACHABLE (retryable).
 */
import http from 'node:http';
import https from 'node:https';
import { DrError } from '../common/index.ts';
import {
  type ApiRequester,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  problemError,
  unreachable,
  waitOf,
} from './http-request.ts';

const ABORTED = (): DrError => new DrError('ABORTED', 'aborted');

/** A socket error in the shape `unreachable` reads (fetch puts the system error in `cause`). */
function lost(error: Error): Error {
  return Object.assign(new Error(error.message), { cause: error });
}

export interface NodeRequesterOptions {
  /**
   * The connection pool (e.g. an https.Agent with a client certificate and the vault's CA); a
   * function is asked at each request, so a renewed certificate takes over for the next one.
   * @defaultValue a keep-alive agent of its own
   */
  agent?: http.Agent | (() => http.Agent);
  /** Headers of each request, from its method, path and body (e.g. an agent's message stamp). */
  headers?: (method: string, path: string, body: unknown) => Record<string, string>;
}

export function createNodeApiRequester(server: string, settings: NodeRequesterOptions = {}): ApiRequester {
  const secure = new URL(server).protocol === 'https:';
  const transport = secure ? https : http;
  const own = settings.agent ?? new transport.Agent({ keepAlive: true });
  return <T>(method: string, path: string, options: Parameters<ApiRequester>[2] = {}): Promise<T> => {
    const agent = typeof own === 'function' ? own() : own;
    const stamp = settings.headers?.(method, path, options.body);
    const url = new URL(`${server}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(ABORTED());
      let settled = false;
      const done = (error: unknown, value?: T): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(value as T);
        else reject(error);
      };
      const request = transport.request(
        url,
        {
          method,
          agent,
          headers: {
            accept: 'application/json, application/problem+json',
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
            ...stamp,
            ...options.headers,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > DEFAULT_MAX_RESPONSE_BYTES) {
              done(
                new DrError(
                  'RESPONSE_TOO_LARGE',
                  `the answer to ${method} ${url.pathname} is larger than ${DEFAULT_MAX_RESPONSE_BYTES} bytes; refused`,
                ),
              );
              request.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (error) => done(unreachable(server, lost(error))));
          response.on('close', () => {
            if (!response.complete) done(unreachable(server, lost(new Error('the answer was cut off'))));
          });
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = response.statusCode ?? 0;
            if (status < 200 || status >= 300)
              return done(problemError(status, text, `${method} ${url.pathname}`));
            try {
              done(undefined, (text === '' ? undefined : JSON.parse(text)) as T);
            } catch (error) {
              done(error);
            }
          });
        },
      );
      const onAbort = (): void => {
        done(ABORTED());
        request.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // As http-request.ts: a control plane that does not answer in time is a retryable error.
      const timeoutMs = (options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) + waitOf(options.body);
      const timer = setTimeout(() => {
        done(
          new DrError(
            'SERVER_TIMEOUT',
            `the control plane at ${server} did not answer ${method} ${url.pathname} within ${timeoutMs / 1000}s`,
            { retryable: true },
          ),
        );
        request.destroy();
      }, timeoutMs);
      timer.unref();
      request.once('close', () => clearTimeout(timer));
      request.on('error', (error) => done(unreachable(server, lost(error))));
      request.end(body);
    });
  };
}
