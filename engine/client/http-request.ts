/**
 * The one way the CLI (and the agent) talk to the control plane: JSON over HTTP, errors read back
 * from problem+json into the same DrError codes the engine throws, so a command prints and exits
 * the same whether the engine runs in process or behind `drctl serve`.
 */
import { DrError } from '../common/index.ts';
import { withTrust } from './tls.ts';
import { bearerHeader, tokenFor } from './token.ts';

/** What `drctl up` and `drctl serve` listen on unless told otherwise. */
export const DEFAULT_SERVER = 'https://127.0.0.1:7080';

export interface ApiRequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * How long the whole call (answer and body) may take. A body's `waitMs` (a long poll, an
   * operator command that waits for the orchestrator) adds to it.
   * @defaultValue the requester's timeoutMs
   */
  timeoutMs?: number;
}

export interface ApiRequesterSettings {
  /**
   * How long a call may take: above the agents' 25 s long polls, so only a control plane that
   * stopped answering trips it.
   * @defaultValue 60_000
   */
  timeoutMs?: number;
  /**
   * The largest answer body read; a larger one is an error that says so, not memory used up.
   * @defaultValue 64 MiB
   */
  maxResponseBytes?: number;
  /**
   * The API token sent as `Authorization: Bearer`.
   * @defaultValue tokenFor(server): DR_TOKEN, else the one `drctl up` wrote for this server
   */
  token?: string;
  /**
   * The CA certificates (PEM) an https server is trusted by, for a caller that holds them (the
   * demo's in-process control plane). @defaultValue tls.ts's: --ca, DR_CA_FILE, up's, the vault's
   */
  ca?: string;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** What a call that waits server side (`waitMs`) gets on top of its wait. */
const WAIT_MARGIN_MS = 30_000;

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
export function createApiRequester(server: string, settings: ApiRequesterSettings = {}): ApiRequester {
  const maxBytes = settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const token = settings.token ?? tokenFor(server);
  const auth = bearerHeader(server, token);
  return async <T>(method: string, path: string, options: ApiRequestOptions = {}): Promise<T> => {
    const url = new URL(`${server}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const timeoutMs =
      (options.timeoutMs ?? settings.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) + waitOf(options.body);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    const what = `${method} ${url.pathname}`;
    let response: Response;
    let text: string;
    const init = withTrust(
      server,
      {
        method,
        headers: {
          accept: 'application/json, application/problem+json',
          ...auth,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // A redirect would resend the body (a plan, an agent's reports) to wherever it points.
        redirect: 'error',
        signal,
      },
      settings.ca,
    );
    try {
      response = await fetch(url, init);
      text = await readCapped(response, maxBytes, `${what} at ${server}`);
    } catch (error) {
      if (error instanceof DrError) throw error;
      if (timeout.aborted && !options.signal?.aborted) {
        throw new DrError(
          'SERVER_TIMEOUT',
          `the control plane at ${server} did not answer ${what} within ${timeoutMs / 1000}s; check that it runs (\`drctl serve\`) and try again`,
          { retryable: true, cause: error },
        );
      }
      throw unreachable(server, error);
    }
    if (response.ok) return (text === '' ? undefined : JSON.parse(text)) as T;
    throw problemError(response.status, text, what);
  };
}

export function waitOf(body: unknown): number {
  const wait = (body as { waitMs?: unknown } | undefined)?.waitMs;
  return typeof wait === 'number' && Number.isFinite(wait) && wait > 0 ? wait + WAIT_MARGIN_MS : 0;
}

/** The body as text, refused once it passes `maxBytes` (read no further). */
async function readCapped(response: Response, maxBytes: number, what: string): Promise<string> {
  const tooLarge = (): DrError =>
    new DrError(
      'RESPONSE_TOO_LARGE',
      `the answer to ${what} is larger than ${maxBytes} bytes, more than this client reads; ask for less (a smaller page or selection)`,
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The control plane did not answer: say where, why, and how to get one. */
export function unreachable(server: string, error: unknown): DrError {
  if (error instanceof DOMException && error.name === 'AbortError') return new DrError('ABORTED', 'aborted');
  if (redirected(error)) {
    return new DrError(
      'SERVER_REDIRECT',
      `the control plane at ${server} answered with a redirect, which is not followed (it would resend the request elsewhere); point --server / DR_SERVER at the URL \`drctl serve\` prints`,
      { exitCode: 2, cause: error },
    );
  }
  return new DrError('SERVER_UNREACHABLE', reachFailure(server, error), { retryable: true, cause: error });
}

const TLS_HINT =
  "give the vault's CA certificate: --ca <file> or DR_CA_FILE (the vault folder's ca.pem; `drctl up` prints DR_CA_FILE)";

/** Codes of a system or undici error, as one says them, with what to check. */
const REACH_CODES: Record<string, { why: string; hint?: string }> = {
  ECONNREFUSED: { why: 'connection refused' },
  ECONNRESET: { why: 'connection reset' },
  EPIPE: { why: 'connection reset' },
  UND_ERR_SOCKET: { why: 'connection closed before an answer' },
  ETIMEDOUT: { why: 'connection timed out', hint: 'check the host, the port and any firewall between' },
  UND_ERR_CONNECT_TIMEOUT: {
    why: 'connection timed out',
    hint: 'check the host, the port and any firewall between',
  },
  EHOSTUNREACH: { why: 'host unreachable', hint: 'check the host and the network route to it' },
  ENETUNREACH: { why: 'network unreachable', hint: 'check the host and the network route to it' },
  ENOTFOUND: { why: 'unknown host', hint: 'check the host name in --server / DR_SERVER' },
  EAI_AGAIN: { why: 'host name lookup failed', hint: 'check the host name in --server / DR_SERVER and DNS' },
  // TLS: the control plane's certificate is the vault CA's (engine/client/tls.ts).
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    why: 'its certificate is not signed by a CA this client trusts',
    hint: TLS_HINT,
  },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: {
    why: 'its certificate is not signed by a CA this client trusts',
    hint: TLS_HINT,
  },
  SELF_SIGNED_CERT_IN_CHAIN: {
    why: 'its certificate is not signed by a CA this client trusts',
    hint: TLS_HINT,
  },
  DEPTH_ZERO_SELF_SIGNED_CERT: { why: 'its certificate is self-signed', hint: TLS_HINT },
  CERT_HAS_EXPIRED: {
    why: 'its certificate has expired',
    hint: 'restart the control plane (it renews its certificate at start)',
  },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    why: 'its certificate does not name that host',
    hint: 'use a host name it was issued for (localhost, 127.0.0.1, or its --host)',
  },
};

const RUNNING_HINT = 'is `drctl up` or `drctl serve` running? (else point --server / DR_SERVER at it)';

/**
 * Why a request found no control plane: fetch throws "fetch failed" and puts the reason one or two
 * causes deeper (a system error with a `code`, an AggregateError of one per address tried, an
 * undici error); the first code found names it.
 */
function reachFailure(server: string, error: unknown): string {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  let innermost = error instanceof Error ? error.message : String(error);
  while (queue.length > 0 && seen.size < 20) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    const { code, message, cause, errors } = next as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && code in REACH_CODES) {
      const known = REACH_CODES[code] as { why: string; hint?: string };
      return `${known.why} at ${server}: ${known.hint ?? RUNNING_HINT}`;
    }
    if (typeof message === 'string' && message !== '') {
      if (message === 'bad port') {
        return `the port of ${server} is one that HTTP clients refuse to use (a "bad port" of the fetch standard): serve the control plane on another port and point --server / DR_SERVER at it`;
      }
      if (message !== 'fetch failed') innermost = typeof code === 'string' ? `${code}: ${message}` : message;
    }
    if (Array.isArray(errors)) queue.push(...errors);
    queue.push(cause);
  }
  return `cannot reach the control plane at ${server} (${innermost}): ${RUNNING_HINT}`;
}

function redirected(error: unknown): boolean {
  const cause = (error as { cause?: { message?: unknown } }).cause;
  return typeof cause?.message === 'string' && /redirect/i.test(cause.message);
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
