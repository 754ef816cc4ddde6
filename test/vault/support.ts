/**
 * A control plane with its vault in this process (HTTPS, mTLS for agents) on the run's Redis, and
 * raw mTLS requests with any certificate a test wants to present: registered, another CA's,
 * expired, revoked. `registerSiteAgent` (engine/cli/trust-setup.ts) is the quick registration.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Redis } from 'ioredis';
import { type AgentIdentity, loadIdentity } from '../../engine/agent/index.ts';
import { ensureVault, registerSiteAgent } from '../../engine/cli/trust-setup.ts';
import { AGENT_HEADERS, signAgentMessage } from '../../engine/common/index.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { silent } from '../engine/support.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

export interface VaultStack {
  prefix: string;
  redis: Redis;
  vaultDir: string;
  agentDir: string;
  control: ControlPlane;
  register(site: string): Promise<AgentIdentity>;
  close(): Promise<void>;
}

export async function startVaultStack(
  temp: (label: string) => string,
  options: { clientLifetimeMs?: number } = {},
): Promise<VaultStack> {
  const prefix = uniquePrefix('vault');
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  const vaultDir = temp('drorch-vault-');
  const agentDir = temp('drorch-agent-');
  await ensureVault({ redis, prefix, dir: vaultDir });
  const control = await startControlPlane({
    redisUrl: testRedisUrl(),
    prefix,
    port: 0,
    routes: controlRoutes,
    logger: silent,
    vault: {
      dir: vaultDir,
      ...(options.clientLifetimeMs === undefined ? {} : { clientLifetimeMs: options.clientLifetimeMs }),
    },
  });
  return {
    prefix,
    redis,
    vaultDir,
    agentDir,
    control,
    register: (site) => registerSiteAgent({ redis, prefix, server: control.url, site, agentDir }),
    close: async () => {
      await control.close(3000);
      redis.disconnect();
    },
  };
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  socket: TLSSocket;
}

export interface Presented {
  cert?: string;
  key?: string;
}

/** One request over a fresh TLS connection (trusting `ca`), presenting `as` when given. */
export function tlsRequest(
  url: string,
  ca: readonly string[],
  method: string,
  path: string,
  options: { as?: Presented; body?: unknown; headers?: Record<string, string>; agent?: https.Agent } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${url}${path}`,
      {
        method,
        ca: [...ca],
        ...(options.as?.cert === undefined ? {} : { cert: options.as.cert, key: options.as.key }),
        agent: options.agent ?? false,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (response) => {
        // Taken now: a kept-alive socket leaves the response when it ends.
        const socket = response.socket as TLSSocket;
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown>;
          try {
            body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            body = { text };
          }
          resolve({ status: response.statusCode ?? 0, body, socket });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** An agent's message stamp headers (and a signature of `body` with `identity`'s key). */
export function stampOf(
  identity: AgentIdentity,
  incarnation: string,
  seq: number,
  body: unknown,
  sign = false,
): Record<string, string> {
  const stamp = { site: identity.site, incarnation, seq, sentAt: Date.now() };
  return {
    [AGENT_HEADERS.incarnation]: incarnation,
    [AGENT_HEADERS.seq]: String(seq),
    [AGENT_HEADERS.sentAt]: String(stamp.sentAt),
    ...(sign ? { [AGENT_HEADERS.signature]: signAgentMessage(identity.key, stamp, body) } : {}),
  };
}

export function presented(identity: AgentIdentity): Presented {
  return { cert: identity.certificate, key: identity.keyPem };
}

export { loadIdentity };
