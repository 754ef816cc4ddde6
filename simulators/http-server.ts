import Fastify, { type FastifyInstance } from 'fastify';
import { listenFailure } from '../engine/common/index.ts';
import type { HyperVApi } from './api.ts';
import type { SimControl } from './control.ts';
import { httpStatusFor, SimError } from './errors.ts';
import { isRpcOp, RPC_OPS, rpcArgs } from './rpc.ts';

export interface SimServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface SimServerOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
}

type Api = HyperVApi & SimControl;

/**
 * The world's management endpoint over HTTP (fastify): `POST /api/<op>` per operation of the
 * Hyper-V API and the simulator's control API, `GET /truth` for the ground truth,
 * `GET /healthz` for readiness. Errors travel as `{code, message, retryable, details}`.
 */
export async function startSimServer(api: Api, options: SimServerOptions = {}): Promise<SimServer> {
  // No request timeout: waitForHeartbeat is a long poll that lasts as long as the guest takes to boot.
  const app: FastifyInstance = Fastify({
    logger: false,
    keepAliveTimeout: 120_000,
    requestTimeout: 0,
    connectionTimeout: 0,
    bodyLimit: 1_048_576,
  });

  // Malformed JSON or a wrong route still answers in the simulator's error shape.
  app.setErrorHandler((error, _request, reply) => {
    reply
      .code(400)
      .send(new SimError('BAD_REQUEST', error instanceof Error ? error.message : String(error)).toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(
        new SimError(
          'BAD_REQUEST',
          `no route ${request.method} ${request.url}; use POST /api/<op> or GET /truth`,
        ).toJSON(),
      );
  });

  app.get('/healthz', async () => ({ ok: true, ops: RPC_OPS }));
  app.get('/truth', async () => api.truth());

  /** Parse and run one operation; any failure comes back as a SimError. */
  async function run(
    op: string,
    raw: unknown,
    batched: boolean,
  ): Promise<{ result: unknown } | { error: SimError }> {
    try {
      if (!isRpcOp(op))
        throw new SimError('BAD_REQUEST', `unknown operation '${op}' (known: ${RPC_OPS.join(', ')})`);
      if (batched && op === 'waitForHeartbeat') {
        throw new SimError(
          'BAD_REQUEST',
          'waitForHeartbeat is a long poll; call it on its own route, not in a batch',
        );
      }
      const parsed = rpcArgs[op].safeParse(raw ?? []);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new SimError(
          'BAD_REQUEST',
          `${op}: bad arguments at ${issue?.path.join('.') || '(args)'}: ${issue?.message}`,
          {
            op,
          },
        );
      }
      const fn = api[op] as (...args: unknown[]) => Promise<unknown>;
      return { result: (await fn(...(parsed.data as unknown[]))) ?? null };
    } catch (error) {
      return {
        error:
          error instanceof SimError
            ? error
            : new SimError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { op }),
      };
    }
  }

  const argsOf = (body: unknown): unknown =>
    body !== null && typeof body === 'object' && 'args' in body ? body.args : undefined;

  app.post<{ Params: { op: string }; Body: unknown }>('/api/:op', async (request, reply) => {
    const outcome = await run(request.params.op, argsOf(request.body), false);
    if ('result' in outcome) return outcome;
    reply.code(httpStatusFor(outcome.error.code));
    return outcome.error.toJSON();
  });

  /**
   * Several calls in one request, run one after the other in order, each with its own outcome:
   * `{"calls": [{"op", "args"}]}` → `{"results": [{"result"} | {"error"}]}`.
   */
  app.post<{ Body: unknown }>('/api/batch', async (request) => {
    const body = request.body;
    const calls = body !== null && typeof body === 'object' && 'calls' in body ? body.calls : undefined;
    if (!Array.isArray(calls))
      throw new SimError('BAD_REQUEST', 'batch: expected {"calls": [{"op": ..., "args": [...]}]}');
    const results: ({ result: unknown } | { error: ReturnType<SimError['toJSON']> })[] = [];
    for (const c of calls as unknown[]) {
      const op = c !== null && typeof c === 'object' && 'op' in c && typeof c.op === 'string' ? c.op : '';
      const outcome = await run(op, argsOf(c), true);
      results.push('result' in outcome ? outcome : { error: outcome.error.toJSON() });
    }
    return { results };
  });

  const host = options.host ?? '127.0.0.1';
  const asked = options.port ?? 0;
  const address = await app.listen({ port: asked, host }).catch(async (error: unknown) => {
    await app.close();
    throw listenFailure(error, host, asked, 'the simulator');
  });
  const port = Number(new URL(address).port);
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: async () => {
      await app.close();
    },
  };
}
