/**
 * The control plane's HTTP API (fastify): routes validated by zod schemas, and the OpenAPI 3.1
 * document generated from those same schemas (no hand-written copy). Every route lives under
 * `/api/v1` but the probes (`/healthz`, `/readyz`), `/metrics` and `/openapi.json`. Errors are
 * problem+json (problem.ts). Each area adds its routes as a `ControlRoutes` function.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { registerAuditHook } from './audit/hook.ts';
import { createAuditLog, vaultAuditSigner } from './audit/index.ts';
import { AGENT_ROUTE_PREFIX, registerAuth } from './auth/index.ts';
import type { ControlApp, ControlContext, ControlRoutes } from './context.ts';
import { API_PREFIX, CONTROL_VERSION } from './context.ts';
import { type Dashboard, registerDashboard } from './dashboard.ts';
import { errorProblem, sendProblem } from './problem.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { guardAgentRoutes, vaultRoutes } from './vault/index.ts';

/**
 * People present a bearer token (auth/hook.ts), agents their client certificate. `mutualTLS` is
 * OpenAPI 3.1's, which the openapi-types package does not list: hence the one cast.
 */
const SECURITY_SCHEMES = {
  bearerToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API token (`drctl token create`): its role and scopes decide what it may do; 401 without one, 403 naming the missing permission',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'drctl_session',
    description:
      "The dashboard's session (POST /api/v1/session): the same roles and scopes as its token; a POST/PUT/PATCH/DELETE made with it needs X-CSRF-Token (403 CSRF_REQUIRED)",
  },
  agentCertificate: {
    type: 'mutualTLS',
    description: "A site agent's client certificate, issued by the vault's CA",
  },
} as unknown as Record<string, { type: 'http'; scheme: string }>;

export interface ControlAppOptions {
  /**
   * Largest request body accepted by a route that names no limit of its own (bytes).
   * @defaultValue 1_048_576
   */
  bodyLimit?: number;
  /** Route groups mounted under `/api/v1`. */
  routes?: readonly ControlRoutes[];
  /**
   * TLS of the server (the vault's server certificate, its CA certificates). A client certificate
   * is requested, not required, by the TLS layer: the agents' gate (ctx.trust) decides per route.
   */
  tls?: { key: string; cert: string; ca: readonly string[] };
  /**
   * The dashboard's built files, served at `/` (dashboard.ts); `false`: none (a unit test's bare app).
   * @defaultValue the repository's web/dist
   */
  dashboardDir?: string | false;
}

export async function buildControlApp(
  ctx: ControlContext,
  options: ControlAppOptions = {},
): Promise<ControlApp> {
  if (ctx.audit === undefined || ctx.auditSigner === undefined) {
    const signer = ctx.auditSigner ?? (await vaultAuditSigner(ctx.redis, ctx.prefix));
    ctx.auditSigner = signer;
    ctx.audit = createAuditLog(ctx.redis, ctx.prefix, signer);
  }
  const app = Fastify({
    loggerInstance: ctx.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1_048_576,
    // Agents keep one connection open and send a heartbeat a second on it.
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    // Long path parameters reach the route's own schema, which refuses them as a problem (the
    // router's own 414 would not be one).
    routerOptions: { maxParamLength: 2048 },
    ...(options.tls === undefined
      ? {}
      : {
          https: {
            key: options.tls.key,
            cert: options.tls.cert,
            ca: [...options.tls.ca],
            requestCert: true,
            rejectUnauthorized: false,
            minVersion: 'TLSv1.2' as const,
          },
        }),
  }).withTypeProvider<ZodTypeProvider>() as unknown as ControlApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((error, request, reply) => {
    const problem = errorProblem(error, request);
    if (request.auth !== null) {
      request.auth.problemCode = problem.code;
      request.auth.problemDetail = problem.detail;
    }
    if (problem.status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    else ctx.metrics.refused.inc({ route: request.routeOptions.url ?? 'unknown', code: problem.code });
    return sendProblem(reply, problem);
  });
  let dashboard: Dashboard | undefined;
  app.setNotFoundHandler((request, reply) => {
    const page = dashboard?.fallback(request, reply);
    if (page !== undefined) return page;
    ctx.metrics.refused.inc({ route: 'unknown', code: 'NOT_FOUND' });
    return sendProblem(reply, {
      type: 'urn:drorch:error:NOT_FOUND',
      title: 'Not found',
      status: 404,
      detail: `no route ${request.method} ${request.url}; /openapi.json lists them`,
      code: 'NOT_FOUND',
      retryable: false,
      instance: request.url,
    });
  });
  // A response sent while the app closes ends its connection: the server's close waits for every
  // connection, and one kept alive after a request that was under way when the close began would
  // hold it for keepAliveTimeout (65 s) after its last response.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.requests.observe(
      {
        route: request.routeOptions.url ?? 'unknown',
        method: request.method,
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'drorch control plane',
        description:
          'Recovery plans, executions, sites and inventory of the disaster-recovery engine. Errors are application/problem+json (RFC 9457) with the codes the CLI prints.',
        version: CONTROL_VERSION,
      },
      components: {
        securitySchemes: SECURITY_SCHEMES,
      },
      security: [{ bearerToken: [] }, { sessionCookie: [] }],
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      // The agents' routes take their client certificate, not a token (auth/hook.ts).
      if (input.url.startsWith(AGENT_ROUTE_PREFIX)) {
        return { ...out, schema: { ...out.schema, security: [{ agentCertificate: [] }] } };
      }
      return out;
    },
    transformObject: jsonSchemaTransformObject,
  });

  if (ctx.trust !== undefined) guardAgentRoutes(app, ctx.trust, ctx.redis, ctx.prefix, ctx.metrics);
  // The token gate and the audit log, before any route is mounted (their onRoute check sees them).
  // /healthz, /readyz, /metrics and /openapi.json stay open: probes, scrapers, API browsers.
  await app.register(fastifyCookie);
  registerAuth(app, ctx);
  registerAuditHook(app, ctx);
  registerSystemRoutes(app, ctx);
  if (options.dashboardDir !== false) dashboard = await registerDashboard(app, options.dashboardDir);
  await app.register(
    async (api) => {
      if (ctx.trust !== undefined) await vaultRoutes(ctx.trust)(api as ControlApp, ctx);
      for (const routes of options.routes ?? []) await routes(api as ControlApp, ctx);
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return app;
}
