/**
 * The vault's routes: `GET /vault/ca` (the CA certificates, public: an agent checks them against
 * its registration key's fingerprint), `POST /vault/register` (a registration key and a CSR for a
 * first client certificate: the key is the credential, no certificate yet) and
 * `POST /agents/:site/certificate` (a renewal, behind the agents' gate, which lets an expired
 * certificate through for RENEWAL_GRACE_MS on this route alone).
 */
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import type { AuditInput } from '../audit/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import type { AgentTrust } from './guard.ts';

const csr = z.string().min(1).max(16_384).describe('PEM PKCS #10 request of the agent key (ECDSA P-256)');
const issuedSchema = z.object({
  certificate: z.string(),
  ca: z.array(z.string()),
  serial: z.string(),
  expiresAt: z.string(),
});

export function vaultRoutes(trust: AgentTrust) {
  return async (app: ControlApp, ctx: ControlContext): Promise<void> => {
    // Registrations and renewals, taken or refused, go on the audit record (actor: the site's agent).
    const record = async (
      request: { ip: string; log: { error(o: object, m: string): void } },
      entry: Omit<AuditInput, 'actor' | 'ip'> & { site: string },
    ): Promise<void> => {
      const { site, ...rest } = entry;
      await ctx.audit
        ?.append({ actor: `agent:${site}`, ip: request.ip, ...rest })
        .catch((error: unknown) => request.log.error({ err: error }, 'could not append to the audit log'));
    };
    app.get(
      '/vault/ca',
      {
        schema: {
          tags: ['vault'],
          summary:
            "The vault's CA certificates (PEM, current first) and the current one's SHA-256 fingerprint",
          response: { 200: z.object({ ca: z.array(z.string()), fingerprint: z.string() }) },
        },
      },
      async () => ({
        ca: [...trust.vault.trusted, ...trust.vault.chain],
        fingerprint: trust.vault.caFingerprint,
      }),
    );

    app.post(
      '/vault/register',
      {
        bodyLimit: 32 * 1024,
        schema: {
          tags: ['vault'],
          summary: "Trade a site's single-use registration key and a CSR for the agent's client certificate",
          body: z.strictObject({ site: z.string().regex(/^[\w-]{1,100}$/), key: z.string().max(400), csr }),
          response: { 200: issuedSchema },
        },
      },
      async (request) => {
        const { site, key } = request.body;
        try {
          const issued = await trust.vault.register(site, key, request.body.csr);
          request.log.info({ site, serial: issued.serial, expiresAt: issued.expiresAt }, 'agent registered');
          await record(request, {
            site,
            action: 'agent:register',
            route: 'POST /api/v1/vault/register',
            outcome: 'accepted',
            status: 200,
            detail: `certificate ${issued.serial} until ${issued.expiresAt}`,
          });
          return issued;
        } catch (error) {
          if (error instanceof DrError) {
            request.log.warn({ site, code: error.code }, `registration refused: ${error.message}`);
            const status = Number((error.details as { status?: unknown } | undefined)?.status ?? 400);
            await record(request, {
              site,
              action: 'agent:register',
              route: 'POST /api/v1/vault/register',
              outcome: status >= 500 ? 'failed' : 'refused',
              status,
              code: error.code,
              detail: error.message.slice(0, 500),
            });
          }
          throw error;
        }
      },
    );

    app.post(
      '/agents/:site/certificate',
      {
        bodyLimit: 32 * 1024,
        schema: {
          tags: ['vault'],
          summary: "Renew the agent's client certificate (same key), also up to 7 days after it expired",
          params: z.strictObject({ site: z.string() }),
          body: z.strictObject({ csr }),
          response: { 200: issuedSchema },
        },
      },
      async (request) => {
        const principal = trust.principalOf(request);
        if (!principal.ok)
          throw new DrError(principal.code, principal.detail, { details: { status: principal.status } });
        const issued = await trust.vault.renew(principal.site, principal.certificate, request.body.csr);
        request.log.info(
          { site: principal.site, serial: issued.serial, expiresAt: issued.expiresAt },
          'agent certificate renewed',
        );
        await record(request, {
          site: principal.site,
          action: 'agent:renew',
          route: 'POST /api/v1/agents/:site/certificate',
          outcome: 'accepted',
          status: 200,
          detail: `certificate ${issued.serial} until ${issued.expiresAt}`,
        });
        return issued;
      },
    );
  };
}
