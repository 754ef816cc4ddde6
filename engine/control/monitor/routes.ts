/**
 * The agents' site-lease routes (issue 13), behind the agents' gate (vault/guard.ts: the caller's
 * certificate, stamp and replay window are checked before these run):
 * - `POST /agents/:site/contact` (every beat): where the site's agent answers peers and which host
 *   endpoints the witness may probe, and its hosts' guards (kept for the automation:
 *   auto/guards.ts); answered with the lease, the other sites' peer listeners, the witness asks for
 *   this site's agent and the site's VMs under an armed automatic failover (its guards' VMs).
 * - `POST /agents/:site/relay`: another site's signed renewal this site's agent carries. Checked
 *   here as if it came directly: the signer's certificate (the vault's, valid, not revoked, for the
 *   site the stamp names), the signature, the signer's replay window (shared with its direct
 *   messages: a renewal seen before is refused) and its age (the send time, corrected by the
 *   signer's measured clock skew, within the lease). Counted in the signer's session hash
 *   (`relayed`) when it names the signer's current session.
 * - `POST /agents/:site/witness`: the verdict of a probe the monitor asked this site's agent for.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { DrError, verifyAgentSignature } from '../../common/index.ts';
import {
  contactReplySchema,
  contactSchema,
  relayReplySchema,
  relaySchema,
  type WitnessAsk,
  witnessAskSchema,
  witnessReportSchema,
} from '../../contract/index.ts';
import { SITE_LEASE_MS } from '../../plan/index.ts';
import { agentHubOf } from '../agents/hub-of.ts';
import { agentKeys, agentSitesKey } from '../agents/keys.ts';
import { createArmingStore } from '../auto/arming.ts';
import { armedVmsOf, putGuardReport } from '../auto/guards.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { createPlanReader } from '../plans/store.ts';
import { checkSequence } from '../vault/sequence.ts';
import { monitorKeys, type WitnessVerdictRecord } from './keys.ts';

const siteParams = z.strictObject({ site: z.string().regex(/^[\w.-]{1,100}$/, 'a site name') });
const okSchema = z.object({ ok: z.literal(true) });

/** Count a relayed renewal for the signer's session if it is still the current one. */
const COUNT_RELAYED = `
if redis.call('HGET', KEYS[1], 'session') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'relayed', 1)
redis.call('HSET', KEYS[1], 'relayedSentAt', ARGV[2])
return 1
`;

function refused(code: string, status: number, message: string): DrError {
  return new DrError(code, message, { details: { status } });
}

/** The lease the monitor counts (its config key), else the default. */
export async function monitorLeaseMs(ctx: ControlContext): Promise<number> {
  const raw = await ctx.redis.get(monitorKeys(ctx.prefix).config);
  const leaseMs = raw === null ? undefined : (JSON.parse(raw) as { leaseMs?: unknown }).leaseMs;
  return typeof leaseMs === 'number' ? leaseMs : SITE_LEASE_MS;
}

export async function registerSiteLeaseRoutes(app: ControlApp, ctx: ControlContext): Promise<void> {
  const { sessions } = agentHubOf(ctx);
  const { redis, prefix } = ctx;
  const keys = monitorKeys(prefix);
  const arming = createArmingStore(redis, prefix);
  const readPlan = createPlanReader(redis, prefix);

  app.post(
    '/agents/:site/contact',
    {
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['agents'],
        summary:
          "A site agent's contact: its peer listener and host endpoints; the peers and witness asks back",
        params: siteParams,
        body: contactSchema,
        response: { 200: contactReplySchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      await sessions.touch(site, request.body.session);
      const session = agentKeys(prefix, site).session;
      await redis.hset(session, {
        peerUrl: request.body.url ?? '',
        hostEndpoints: JSON.stringify(request.body.hostEndpoints),
      });
      const others = (await redis.smembers(agentSitesKey(prefix))).filter((s) => s !== site).sort();
      const peers: { site: string; url: string }[] = [];
      for (const other of others) {
        const url = await redis.hget(agentKeys(prefix, other).session, 'peerUrl');
        if (url) peers.push({ site: other, url });
      }
      const asks: WitnessAsk[] = Object.values(await redis.hgetall(keys.asks(site))).flatMap((json) => {
        const parsed = witnessAskSchema.safeParse(JSON.parse(json));
        return parsed.success ? [parsed.data] : [];
      });
      // The hosts' guards: what the agent found (kept for the automation), what to arm them with.
      const armedVms = await armedVmsOf(redis, prefix, arming, site, readPlan);
      await putGuardReport(redis, prefix, {
        site,
        at: new Date().toISOString(),
        armedVms,
        hosts: request.body.guards ?? null,
      });
      return { ok: true as const, leaseMs: await monitorLeaseMs(ctx), peers, asks, armedVms };
    },
  );

  app.post(
    '/agents/:site/relay',
    {
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['agents'],
        summary: "Another site's signed lease renewal, relayed by this site's agent",
        params: siteParams,
        body: relaySchema,
        response: { 200: relayReplySchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      await sessions.touch(site, request.body.session);
      const { renewal } = request.body;
      const from = renewal.stamp.site;
      if (from === site) {
        throw refused(
          'RELAY_OF_OWN_SITE',
          400,
          `site ${site}'s agent relays other sites' renewals, not its own`,
        );
      }
      const trust = ctx.trust;
      if (trust === undefined) {
        throw refused(
          'RELAY_NEEDS_VAULT',
          409,
          'relayed renewals are verified with the vault: this control plane runs without one (drctl serve --vault-dir)',
        );
      }
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(renewal.certificate);
      } catch {
        throw refused(
          'BAD_SIGNATURE',
          403,
          `the relayed renewal of site ${from} carries no readable certificate`,
        );
      }
      const check = verifyAgentSignature({
        certificate,
        trusted: trust.vault.trusted,
        stamp: renewal.stamp,
        body: renewal.body,
        signature: renewal.signature,
      });
      if (!check.ok) {
        request.log.warn({ site, from, reason: check.reason }, `relayed renewal refused: ${check.detail}`);
        throw refused(
          'BAD_SIGNATURE',
          403,
          `the relayed renewal of site ${from} is refused: ${check.detail}`,
        );
      }
      if (trust.isRevoked(certificate.serialNumber.toLowerCase())) {
        throw refused(
          'CLIENT_CERT_REVOKED',
          403,
          `the relayed renewal of site ${from} is signed by a revoked certificate`,
        );
      }
      const status = await checkSequence(
        redis,
        prefix,
        from,
        renewal.stamp.incarnation,
        renewal.stamp.seq,
        false,
      );
      if (status !== 'ok') {
        throw refused(
          status === 'replay' ? 'MESSAGE_REPLAYED' : 'RENEWAL_REFUSED',
          409,
          `the relayed renewal ${renewal.stamp.seq} of site ${from} (incarnation ${renewal.stamp.incarnation}) is refused: ${status}`,
        );
      }
      const signer = agentKeys(prefix, from).session;
      const skew = Number((await redis.hget(signer, 'clockSkewMs')) ?? 0);
      const ageMs = Date.now() - (renewal.stamp.sentAt - (Number.isFinite(skew) ? skew : 0));
      const leaseMs = await monitorLeaseMs(ctx);
      if (ageMs > leaseMs) {
        request.log.info({ site, from, ageMs }, 'relayed renewal older than the lease: not counted');
        return { ok: true as const, site: from, counted: false };
      }
      const counted =
        Number(
          await redis.eval(COUNT_RELAYED, 1, signer, renewal.body.session, String(renewal.stamp.sentAt)),
        ) === 1;
      return { ok: true as const, site: from, counted };
    },
  );

  app.post(
    '/agents/:site/witness',
    {
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['agents'],
        summary: "What this site's agent found when it probed a site the monitor asked about",
        params: siteParams,
        body: witnessReportSchema,
        response: { 200: okSchema },
      },
    },
    async (request) => {
      const { site } = request.params;
      const report = request.body;
      await sessions.touch(site, report.session);
      const raw = await redis.hget(keys.asks(site), report.site);
      const ask = raw === null ? undefined : (JSON.parse(raw) as WitnessAsk);
      // Only the ask outstanding for this agent: a late answer to an older ask changes nothing.
      if (ask?.askId !== report.askId) return { ok: true as const };
      const record: WitnessVerdictRecord = {
        askId: report.askId,
        verdict: report.verdict,
        by: 'peer',
        from: site,
        detail: report.detail,
      };
      await redis
        .multi()
        .hset(keys.verdicts, report.site, JSON.stringify(record))
        .hdel(keys.asks(site), report.site)
        .exec();
      request.log.info({ site, target: report.site, verdict: report.verdict }, 'witness verdict');
      return { ok: true as const };
    },
  );
}
