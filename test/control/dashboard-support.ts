/**
 * A control plane with its vault (HTTPS) for the dashboard's tests, and raw HTTPS calls that keep
 * the answer's headers (Set-Cookie, Content-Security-Policy, Cache-Control) and its text, plus the
 * first `bytes` of a server-sent-event stream.
 */
import https from 'node:https';
import { Redis } from 'ioredis';
import { ensureVault } from '../../engine/cli/trust-setup.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { silent } from '../engine/support.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

export interface DashboardStack {
  prefix: string;
  redis: Redis;
  control: ControlPlane;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  close(): Promise<void>;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export async function startDashboardStack(
  temp: (label: string) => string,
  options: { dashboardDir?: string | false } = {},
): Promise<DashboardStack> {
  const prefix = uniquePrefix('dash');
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  const vaultDir = temp('drorch-dash-vault-');
  await ensureVault({ redis, prefix, dir: vaultDir });
  const control = await startControlPlane({
    redisUrl: testRedisUrl(),
    prefix,
    port: 0,
    routes: controlRoutes,
    logger: silent,
    vault: { dir: vaultDir },
    ...(options.dashboardDir === undefined ? {} : { dashboardDir: options.dashboardDir }),
  });
  const ca = control.ca ?? [];
  return {
    prefix,
    redis,
    control,
    call: (method, path, callOptions = {}) => httpsCall(control.url, ca, method, path, callOptions),
    close: async () => {
      await control.close(3000);
      redis.disconnect();
    },
  };
}

export function httpsCall(
  url: string,
  ca: readonly string[],
  method: string,
  path: string,
  options: CallOptions & { maxBytes?: number; until?: (text: string) => boolean } = {},
): Promise<Reply> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${url}${path}`,
      {
        method,
        ca: [...ca],
        agent: false,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        const finish = (): void => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            json = {};
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        };
        response.on('data', (c: Buffer) => {
          chunks.push(c);
          if (options.until?.(Buffer.concat(chunks).toString('utf8'))) {
            finish();
            request.destroy();
          }
        });
        response.on('end', finish);
      },
    );
    request.on('error', (error) => {
      if (!request.destroyed || (error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    request.end(body);
  });
}

/** `drctl_session=<value>` of a Set-Cookie answer, for the Cookie header of the next calls. */
export function sessionCookieOf(reply: Reply): string {
  const set = [reply.headers['set-cookie'] ?? []].flat();
  const cookie = set.find((line) => line.startsWith('drctl_session='));
  if (cookie === undefined) throw new Error(`no drctl_session cookie in ${JSON.stringify(set)}`);
  return cookie.split(';')[0] ?? '';
}
