/**
 * The dashboard's files (web/, built by Vite into web/dist), served by the control plane at `/` on
 * the API's own origin and TLS: nothing is loaded from anywhere else (the Content-Security-Policy
 * says `default-src 'self'`). Hashed assets (`/assets/*`) are cached for a year, everything else
 * revalidated; a path that is no file and not under `/api` is the single page's (index.html), so
 * its router's deep links load. Without a build, `/` says how to make one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ControlApp } from './context.ts';

/** The repository's web/dist, beside engine/. */
export const DEFAULT_DASHBOARD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'web',
  'dist',
);

/** No script, style, image, font, worker or connection but this origin's; no framing, no plugins. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface Dashboard {
  /** Whether web/dist was there when the control plane started. */
  readonly built: boolean;
  readonly dir: string;
  /** The not-found answer of a non-API GET: the single page, or the how-to-build page. */
  fallback(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined;
}

export async function registerDashboard(app: ControlApp, dir = DEFAULT_DASHBOARD_DIR): Promise<Dashboard> {
  const built = existsSync(path.join(dir, 'index.html'));
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/api/')) return payload;
    void reply.header('content-security-policy', DASHBOARD_CSP);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-frame-options', 'DENY');
    return payload;
  });
  if (built) {
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      // One route per file of the build: an unknown path falls to the not-found handler (the
      // single page, or the API's 404 problem), never to a catch-all route outside the token gate.
      wildcard: false,
      cacheControl: false,
      setHeaders: (reply, file) => {
        const relative = path.relative(dir, file);
        void reply.header('cache-control', relative.startsWith(`assets${path.sep}`) ? IMMUTABLE : 'no-cache');
      },
    });
  } else {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(notBuiltPage(dir)),
    );
  }
  return {
    built,
    dir,
    fallback: (request, reply) => {
      if (!built || (request.method !== 'GET' && request.method !== 'HEAD')) return undefined;
      if (request.url === '/api' || request.url.startsWith('/api/')) return undefined;
      // A file-like path (`/x.js`) that is not in the build is a 404, not the page.
      const pathname = request.url.split('?')[0] ?? '/';
      if (path.posix.extname(pathname) !== '') return undefined;
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    },
  };
}

function notBuiltPage(dir: string): string {
  const escaped = dir.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drorch: dashboard not built</title></head>
<body>
<h1>The dashboard is not built</h1>
<p>The control plane serves the dashboard from <code>${escaped}</code>, which has no <code>index.html</code>.</p>
<p>Build it from the repository's root with <code>npm ci</code> (its <code>prepare</code> script builds <code>web/</code> into <code>web/dist</code>), then restart the control plane (<code>drctl up</code> or <code>drctl serve</code>).</p>
<p>The API is up meanwhile: <a href="/openapi.json">/openapi.json</a> lists its routes.</p>
</body></html>
`;
}
