import Fastify, { type FastifyInstance } from 'fastify';
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

  app.post<{ Params: { op: string }; Body: unknown }>('/api/:op', async (request, reply) => {
    const op = request.params.op;
    try {
      if (!isRpcOp(op))
        throw new SimError('BAD_REQUEST', `unknown operation '${op}' (known: ${RPC_OPS.join(', ')})`);
      const body = request.body;
      const raw = body !== null && typeof body === 'object' && 'args' in body ? body.args : undefined;
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
      const result = await fn(...(parsed.data as unknown[]));
      return { result: result ?? null };
    } catch (error) {
      const simError =
        error instanceof SimError
          ? error
          : new SimError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { op });
      reply.code(httpStatusFor(simError.code));
      return simError.toJSON();
    }
  });

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const port = Number(new URL(address).port);
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: async () => {
      await app.close();
    },
  };
}
