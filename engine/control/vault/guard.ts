/**
 * The agents' gate (one set of hooks on the app, for every route under `/api/v1/agents/:site`):
 * 1. onRequest: the TLS client certificate, read once per connection and cached on its socket:
 *    none → 401 CLIENT_CERT_REQUIRED; not issued by a CA of this vault → 401 CLIENT_CERT_UNTRUSTED;
 *    expired → 401 CLIENT_CERT_EXPIRED (the renewal route takes it for RENEWAL_GRACE_MS more);
 *    revoked → 403 CLIENT_CERT_REVOKED; for another site than `:site` → 403 SITE_FORBIDDEN.
 * 2. preValidation (the body parsed): the message stamp (incarnation, sequence, send time) → 400
 *    when missing; a heartbeat's signature (403 BAD_SIGNATURE); then the sequence check
 *    (sequence.ts: 409 MESSAGE_REPLAYED / MESSAGE_STALE / AGENT_REPLACED / UNKNOWN_SESSION).
 * Every refusal is logged (warn, with site, route, reason, certificate serial) and counted in
 * `drorch_agent_refused_total{reason}` besides the app's refused counter. The clock skew of each
 * heartbeat (agent's send time minus arrival) goes to the site's session record, never refused on.
 *
 * Each connection is tracked by the serial of its certificate: a revocation (pub/sub from any
 * control plane, or seen by the 500 ms poll of the revocation hash) destroys them at once.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import {
  AGENT_HEADERS,
  DrError,
  type Logger,
  siteOfCertificate,
  verifySignatureWith,
} from '../../common/index.ts';
import { agentKeys } from '../agents/keys.ts';
import type { AuditLog } from '../audit/index.ts';
import type { ControlApp } from '../context.ts';
import type { ControlMetrics } from '../metrics.ts';
import { vaultKeys } from './keys.ts';
import { adoptIncarnation, checkSequence } from './sequence.ts';
import { RENEWAL_GRACE_MS, revokedError, type Vault } from './vault.ts';

export const AGENT_ROUTE_PREFIX = '/api/v1/agents/:site';
export const RENEW_ROUTE = `${AGENT_ROUTE_PREFIX}/certificate`;

/** Who is on a connection, as its certificate says (or why it may not be anyone). */
export type Principal =
  | { ok: true; site: string; serial: string; notAfter: number; certificate: X509Certificate }
  | { ok: false; code: string; status: 401 | 403; detail: string; serial?: string };

export interface AgentTrust {
  /** The vault as opened last (a rotation anywhere reopens it: `onRotated`). */
  readonly vault: Vault;
  /** The principal of a request's connection (cached per socket). */
  principalOf(request: FastifyRequest): Principal;
  /** Refresh the revoked serials now (tests; else every 500 ms and on each pub/sub message). */
  refresh(): Promise<void>;
  isRevoked(serial: string): boolean;
  /** Connections open per certificate serial (tests and /metrics). */
  openConnections(serial: string): number;
  close(): Promise<void>;
}

const SKEW = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'clockSkewMs', ARGV[1]) end
`;

export async function createAgentTrust(options: {
  vault: Vault;
  redis: Redis;
  prefix: string;
  log: Logger;
  /** @defaultValue 500 */
  revocationPollMs?: number;
  /**
   * The vault's CA was rotated or restored (pub/sub from `drctl vault rotate|restore`): reopen it;
   * what it resolves to is the vault from then on (serve.ts also swaps its TLS context).
   */
  onRotated?: () => Promise<Vault>;
}): Promise<AgentTrust> {
  const { redis, prefix } = options;
  const keys = vaultKeys(prefix);
  let vault = options.vault;
  let trusted = vault.trusted.map((pem) => new X509Certificate(pem));
  const principals = new WeakMap<TLSSocket, Principal>();
  const sockets = new Map<string, Set<TLSSocket>>();
  let revoked = new Set<string>();

  const cut = (serials: Iterable<string>): void => {
    for (const serial of serials) {
      const open = sockets.get(serial);
      if (open === undefined) continue;
      options.log.warn({ serial, connections: open.size }, 'certificate revoked: closing its connections');
      for (const socket of open) socket.destroy();
      sockets.delete(serial);
    }
  };
  const refresh = async (): Promise<void> => {
    const now = new Set(await redis.hkeys(keys.revoked));
    const added = [...now].filter((s) => !revoked.has(s));
    revoked = now;
    cut(added);
  };
  await refresh();
  const subscriber = redis.duplicate({ connectionName: 'drorch-vault-events' });
  subscriber.on('error', (error) =>
    options.log.warn({ err: error.message }, 'vault events connection error'),
  );
  subscriber.on('message', (_channel, message) => {
    try {
      const event = JSON.parse(message) as { serials?: unknown; rotated?: unknown };
      if (event.rotated === true && options.onRotated !== undefined) {
        options.onRotated().then(
          (reopened) => {
            vault = reopened;
            trusted = reopened.trusted.map((pem) => new X509Certificate(pem));
            options.log.info({ ca: reopened.caFingerprint }, 'vault CA rotated: reopened');
          },
          (error: unknown) =>
            options.log.error({ err: (error as Error).message }, 'vault not reopened after a rotation'),
        );
      }
      if (Array.isArray(event.serials)) {
        const serials = event.serials.filter((s): s is string => typeof s === 'string');
        for (const s of serials) revoked.add(s);
        cut(serials);
      }
    } catch {
      // Not ours: the poll below catches up.
    }
  });
  await subscriber.subscribe(keys.channel);
  const timer = setInterval(() => {
    refresh().catch((error: unknown) =>
      options.log.warn({ err: (error as Error).message }, 'revocations not read'),
    );
  }, options.revocationPollMs ?? 500);
  timer.unref();

  const read = (socket: TLSSocket): Principal => {
    if (typeof socket.getPeerX509Certificate !== 'function') {
      return {
        ok: false,
        code: 'TLS_REQUIRED',
        status: 401,
        detail: 'agents reach the control plane over TLS only',
      };
    }
    const peer = socket.getPeerX509Certificate();
    if (peer === undefined) {
      return {
        ok: false,
        code: 'CLIENT_CERT_REQUIRED',
        status: 401,
        detail:
          'agent routes need the client certificate of a registered agent (drctl agent --register <key>)',
      };
    }
    const serial = peer.serialNumber.toLowerCase();
    const issued = trusted.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
    if (!issued) {
      return {
        ok: false,
        code: 'CLIENT_CERT_UNTRUSTED',
        status: 401,
        serial,
        detail: `the client certificate (${peer.subject.replace(/\n/g, ', ')}, issuer ${peer.issuer.replace(/\n/g, ', ')}) was not issued by this vault's CA; register the agent with a key from \`drctl site register\``,
      };
    }
    const site = siteOfCertificate(peer);
    if (site === undefined) {
      return {
        ok: false,
        code: 'CLIENT_CERT_UNTRUSTED',
        status: 401,
        serial,
        detail: 'the client certificate names no site',
      };
    }
    return { ok: true, site, serial, notAfter: Date.parse(peer.validTo), certificate: peer };
  };

  const principalOf = (request: FastifyRequest): Principal => {
    const socket = request.raw.socket as TLSSocket;
    let principal = principals.get(socket);
    if (principal === undefined) {
      principal = read(socket);
      principals.set(socket, principal);
      if (principal.ok) {
        const { serial } = principal;
        const open = sockets.get(serial) ?? new Set<TLSSocket>();
        sockets.set(serial, open);
        open.add(socket);
        socket.once('close', () => {
          const set = sockets.get(serial);
          set?.delete(socket);
          if (set?.size === 0) sockets.delete(serial);
        });
      }
    }
    return principal;
  };

  return {
    get vault() {
      return vault;
    },
    principalOf,
    refresh,
    isRevoked: (serial) => revoked.has(serial),
    openConnections: (serial) => sockets.get(serial)?.size ?? 0,
    close: async () => {
      clearInterval(timer);
      subscriber.disconnect();
    },
  };
}

/** Requests the gate refused (logged and counted there already: the app's error handler skips them). */
export const refusedAtGate = new WeakSet<FastifyRequest>();

/** The refusals of the certificate itself, each on the audit record (who knocked, from where). */
const CERTIFICATE_REFUSALS = new Set([
  'CLIENT_CERT_REQUIRED',
  'CLIENT_CERT_UNTRUSTED',
  'CLIENT_CERT_EXPIRED',
  'CLIENT_CERT_REVOKED',
  'SITE_FORBIDDEN',
]);

async function auditRefusal(
  audit: AuditLog | undefined,
  request: FastifyRequest,
  error: DrError,
  serial: string | undefined,
): Promise<void> {
  const status = Number((error.details as { status?: unknown } | undefined)?.status ?? 401);
  await audit
    ?.append({
      actor: `agent:${(request.params as { site?: string }).site ?? '?'}`,
      action: 'agent:call',
      route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      ip: request.ip,
      outcome: 'refused',
      status,
      code: error.code,
      detail: `${error.message}${serial === undefined ? '' : ` (certificate ${serial})`}`.slice(0, 500),
    })
    .catch((failure: unknown) => request.log.error({ err: failure }, 'could not append to the audit log'));
}

function refusal(code: string, status: number, detail: string, site: string): DrError {
  return new DrError(code, detail, { exitCode: 2, details: { status, site } });
}

/** The hooks of the agents' gate on `app` (all routes; only agent routes are checked). */
export function guardAgentRoutes(
  app: ControlApp,
  trust: AgentTrust,
  redis: Redis,
  prefix: string,
  metrics: ControlMetrics,
  /** Where a certificate refused at the door goes on record (the sequence's refusals are logged). */
  audit?: AuditLog,
): void {
  const refuse = (request: FastifyRequest, reason: string, error: DrError, serial?: string): never => {
    metrics.agentRefused.inc({ reason });
    refusedAtGate.add(request);
    if (CERTIFICATE_REFUSALS.has(reason)) void auditRefusal(audit, request, error, serial);
    request.log.warn(
      {
        site: (request.params as { site?: string }).site,
        route: request.routeOptions.url,
        reason,
        serial,
        code: error.code,
      },
      `agent request refused: ${error.message}`,
    );
    throw error;
  };
  const isAgentRoute = (request: FastifyRequest): boolean =>
    request.routeOptions.url?.startsWith(`${AGENT_ROUTE_PREFIX}/`) === true;

  app.addHook('onRequest', async (request) => {
    if (!isAgentRoute(request)) return;
    const site = (request.params as { site?: string }).site ?? '';
    const principal = trust.principalOf(request);
    if (!principal.ok) {
      refuse(
        request,
        principal.code,
        refusal(principal.code, principal.status, principal.detail, site),
        principal.serial,
      );
      return;
    }
    if (trust.isRevoked(principal.serial)) {
      refuse(request, 'CLIENT_CERT_REVOKED', revokedError(principal.site), principal.serial);
    }
    const now = Date.now();
    if (now > principal.notAfter) {
      const renewing =
        request.routeOptions.url === RENEW_ROUTE && now - principal.notAfter <= RENEWAL_GRACE_MS;
      if (!renewing) {
        refuse(
          request,
          'CLIENT_CERT_EXPIRED',
          refusal(
            'CLIENT_CERT_EXPIRED',
            401,
            `the agent certificate of site ${principal.site} expired at ${new Date(principal.notAfter).toISOString()}; the agent renews it itself (POST ${RENEW_ROUTE}) up to ${RENEWAL_GRACE_MS / 86_400_000} days after, else register again`,
            site,
          ),
          principal.serial,
        );
      }
    }
    if (principal.site !== site) {
      refuse(
        request,
        'SITE_FORBIDDEN',
        refusal(
          'SITE_FORBIDDEN',
          403,
          `the agent certificate of site ${principal.site} may use only /api/v1/agents/${principal.site}/…, not site ${site}'s`,
          site,
        ),
        principal.serial,
      );
    }
  });

  /** Hellos of a new incarnation waiting for their answer (adopted only when it is a success). */
  const pendingHellos = new WeakMap<FastifyRequest, { site: string; incarnation: string; seq: number }>();
  app.addHook('onSend', async (request, reply, payload) => {
    const pending = pendingHellos.get(request);
    if (pending === undefined) return payload;
    pendingHellos.delete(request);
    if (reply.statusCode >= 300) return payload;
    const adopted = await adoptIncarnation(redis, prefix, pending.site, pending.incarnation, pending.seq);
    if (adopted !== 'new' && adopted !== 'ok')
      request.log.warn(
        { site: pending.site, incarnation: pending.incarnation, status: adopted },
        'agent hello accepted but its incarnation not adopted into the replay window',
      );
    return payload;
  });

  app.addHook('preValidation', async (request) => {
    if (!isAgentRoute(request)) return;
    const principal = trust.principalOf(request);
    if (!principal.ok) return;
    const site = principal.site;
    const header = (name: string): string | undefined => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const incarnation = header(AGENT_HEADERS.incarnation);
    const seq = Number(header(AGENT_HEADERS.seq));
    const sentAt = Number(header(AGENT_HEADERS.sentAt));
    if (
      incarnation === undefined ||
      !/^[\w.-]{8,100}$/.test(incarnation) ||
      !Number.isSafeInteger(seq) ||
      seq < 0 ||
      !Number.isFinite(sentAt)
    ) {
      refuse(
        request,
        'MESSAGE_UNSTAMPED',
        refusal(
          'MESSAGE_UNSTAMPED',
          400,
          `an agent message carries headers ${AGENT_HEADERS.incarnation} (8-100 of [A-Za-z0-9_.-]), ${AGENT_HEADERS.seq} (a non-negative integer) and ${AGENT_HEADERS.sentAt} (ms since the epoch)`,
          site,
        ),
        principal.serial,
      );
      return;
    }
    const stamp = { site, incarnation, seq, sentAt };
    const url = request.routeOptions.url ?? '';
    const heartbeat = url === `${AGENT_ROUTE_PREFIX}/heartbeat`;
    if (heartbeat) {
      const signature = header(AGENT_HEADERS.signature);
      if (
        signature === undefined ||
        !verifySignatureWith(principal.certificate.publicKey, stamp, request.body, signature)
      ) {
        refuse(
          request,
          'BAD_SIGNATURE',
          refusal(
            'BAD_SIGNATURE',
            403,
            `a heartbeat of site ${site} must be signed by its agent's key (${AGENT_HEADERS.signature})`,
            site,
          ),
          principal.serial,
        );
      }
    }
    const hello = url === `${AGENT_ROUTE_PREFIX}/hello`;
    // A new incarnation's hello is only peeked at here: adopted in onSend once it was accepted.
    const status = await checkSequence(redis, prefix, site, incarnation, seq, hello, hello);
    switch (status) {
      case 'ok':
        break;
      case 'new':
        pendingHellos.set(request, { site, incarnation, seq });
        break;
      case 'replay':
        refuse(
          request,
          'MESSAGE_REPLAYED',
          refusal(
            'MESSAGE_REPLAYED',
            409,
            `message ${seq} of agent incarnation ${incarnation} of site ${site} was received already: a replay`,
            site,
          ),
          principal.serial,
        );
        break;
      case 'stale':
        refuse(
          request,
          'MESSAGE_STALE',
          refusal(
            'MESSAGE_STALE',
            409,
            `message ${seq} of agent incarnation ${incarnation} of site ${site} is older than the replay window`,
            site,
          ),
          principal.serial,
        );
        break;
      case 'replaced':
        refuse(
          request,
          'STALE_INCARNATION',
          new DrError(
            'AGENT_REPLACED',
            `agent incarnation ${incarnation} of site ${site} was replaced by a later one: only one agent serves a site; this one should stop`,
            { details: { status: 409, site } },
          ),
          principal.serial,
        );
        break;
      case 'unknown':
        refuse(
          request,
          'UNKNOWN_INCARNATION',
          new DrError(
            'UNKNOWN_SESSION',
            `agent incarnation ${incarnation} of site ${site} has not said hello: say hello (POST /api/v1/agents/${site}/hello)`,
            {
              details: { status: 409, site },
            },
          ),
          principal.serial,
        );
        break;
    }
    if (heartbeat)
      await redis.eval(SKEW, 1, agentKeys(prefix, site).session, String(Math.round(sentAt - Date.now())));
  });
}
