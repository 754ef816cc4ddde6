/**
 * The one way the CLI (and the agent) talk to the control plane: JSON over HTTP, errors read back
 * from problem+json into the same DrError codes the engine throws, so a command prints and exits
 * the same whether the engine runs in process or behind `drctl serve`.
 */
import { DrError } from '../common/index.ts';

/** What `drctl up` and `drctl serve` listen on unless told otherwise. */
export const DEFAULT_SERVER = 'http://127.0.0.1:7080';

export interface ApiRequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type ApiRequester = <T>(method: string, path: string, options?: ApiRequestOptions) => Promise<T>;

/**
 * The control plane's URL: `--server`, else DR_SERVER, else what `drctl up` prints by default.
 * Not an http(s) URL → bad input (exit 2).
 */
export function serverUrlFrom(flag: string | undefined): string {
  const url = flag ?? process.env.DR_SERVER ?? DEFAULT_SERVER;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new DrError(
      'BAD_SERVER_URL',
      `the control plane's URL '${url}' (--server or DR_SERVER) is not an http(s) URL; give the one \`drctl serve\` or \`drctl up\` prints, e.g. ${DEFAULT_SERVER}`,
      { exitCode: 2 },
    );
  }
  return url.replace(/\/+$/, '');
}

/** A requester bound to one control plane. `path` starts with `/` (e.g. `/api/v1/executions`). */
export function createApiRequester(server: string): ApiRequester {
  return async <T>(method: string, path: string, options: ApiRequestOptions = {}): Promise<T> => {
    const url = new URL(`${server}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json, application/problem+json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      throw unreachable(server, error);
    }
    const text = await response.text();
    if (response.ok) return (text === '' ? undefined : JSON.parse(text)) as T;
    throw problemError(response.status, text, `${method} ${url.pathname}`);
  };
}

/** The control plane did not answer: say where, why, and how to get one. */
export function unreachable(server: string, error: unknown): DrError {
  if (error instanceof DOMException && error.name === 'AbortError') return new DrError('ABORTED', 'aborted');
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  const why = cause === 'ECONNREFUSED' ? 'connection refused' : cause;
  return new DrError(
    'SERVER_UNREACHABLE',
    `cannot reach the control plane at ${server} (${why}); start it with \`drctl up\` or \`drctl serve\`, or point --server / DR_SERVER at it`,
    { retryable: true, cause: error },
  );
}

/**
 * A problem+json answer as the DrError the engine would have thrown: its code, its message, its
 * details; a 4xx but 409 is bad input (exit 2), anything else a failed operation (exit 1).
 */
export function problemError(status: number, body: string, what: string): DrError {
  let problem: { code?: unknown; detail?: unknown; retryable?: unknown; details?: unknown; issues?: unknown };
  try {
    problem = JSON.parse(body) as typeof problem;
  } catch {
    problem = {};
  }
  const code = typeof problem.code === 'string' ? problem.code : `HTTP_${status}`;
  const detail =
    typeof problem.detail === 'string' ? problem.detail : `the control plane answered ${status} to ${what}`;
  const details =
    typeof problem.details === 'object' && problem.details !== null
      ? (problem.details as Record<string, unknown>)
      : {};
  return new DrError(code, detail, {
    exitCode: status >= 400 && status < 500 && status !== 409 ? 2 : 1,
    retryable: problem.retryable === true,
    details: { ...details, status, ...(Array.isArray(problem.issues) ? { issues: problem.issues } : {}) },
  });
}
