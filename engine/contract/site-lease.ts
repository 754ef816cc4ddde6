/**
 * The site lease's messages beyond the heartbeat (issue 13): a renewal signed by its site's agent
 * that a peer site's agent (or the arbiter) carries, the agents' contact route with the control
 * plane (their peer addresses, the witness asks) and the witness's verdict. Strict schemas, as
 * agent-protocol.ts: both ends parse with these.
 *
 * The cross-site contact of the witness is named here: `GET /alive` on a site's agent peer
 * listener (answers 204 with no body: it reveals nothing, needs no credentials) and a TCP connect
 * to each of the site's host endpoints (e.g. a host's WinRM port), nothing sent over it.
 */
import { z } from 'zod';
import { NO_CONTROL } from '../common/index.ts';

const text = (max: number) => z.string().max(max).regex(NO_CONTROL, { error: 'contains control characters' });
const site = z.string().regex(/^[\w.-]{1,100}$/, 'a site name');
const url = text(500).regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL');
/** `host:port` of a host's management endpoint, probed by a TCP connect. */
export const hostEndpointSchema = text(300).regex(
  /^[\w.-]+:\d{1,5}$|^\[[\d:a-fA-F]+\]:\d{1,5}$/,
  'host:port',
);

/** What the agent signs: its session and its renewal number within its incarnation. */
export const renewalBodySchema = z.strictObject({
  session: text(100).min(1),
  renewal: z.number().int().nonnegative(),
});
export type RenewalBody = z.infer<typeof renewalBodySchema>;

/** A renewal as it travels through a peer or to the arbiter: stamp, body, signature and the signer's certificate. */
export const signedRenewalSchema = z
  .strictObject({
    stamp: z.strictObject({
      site,
      incarnation: z.string().regex(/^[\w.-]{8,100}$/),
      seq: z.number().int().nonnegative(),
      /** The agent's clock when it sent the renewal (ms since the epoch). */
      sentAt: z.number(),
    }),
    body: renewalBodySchema,
    signature: z.string().regex(/^[\w-]{16,200}$/),
    /** The agent's client certificate (PEM), issued by the vault's CA. */
    certificate: z
      .string()
      .max(8000)
      .regex(/^-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*$/),
  })
  .meta({ id: 'SignedRenewal' });
export type SignedRenewal = z.infer<typeof signedRenewalSchema>;

/** `POST /agents/:site/relay`: a peer site's renewal, carried by this site's agent. */
export const relaySchema = z.strictObject({ session: z.string(), renewal: signedRenewalSchema });
export const relayReplySchema = z.object({ ok: z.literal(true), site, counted: z.boolean() });

/**
 * One host's guard as the agent last found it (engine/agent guard.ts): armed with which VMs, when
 * the agent last renewed it (its wall clock) and the host's deadline, the last error of an arm or a
 * renewal. The control plane trusts none of it to fence; it only refuses an automatic failover
 * when the guard is not known to work.
 */
export const guardHealthSchema = z.strictObject({
  host: text(200).min(1),
  armed: z.boolean(),
  vms: z.array(text(200)).max(10_000),
  renewedAt: z.iso.datetime({ offset: true }).optional(),
  deadline: z.iso.datetime({ offset: true }).optional(),
  lastError: text(2000).optional(),
});
export type GuardHealth = z.infer<typeof guardHealthSchema>;

/** `POST /agents/:site/contact`: where this agent answers peers, what its hosts are; sent every beat. */
export const contactSchema = z.strictObject({
  session: z.string(),
  /** The agent's peer listener as other sites reach it. */
  url: url.optional(),
  hostEndpoints: z.array(hostEndpointSchema).max(64).default([]),
  /** Its hosts' guards (absent: this agent keeps no guard). */
  guards: z.array(guardHealthSchema).max(1000).optional(),
});
export const witnessAskSchema = z.object({
  askId: text(200),
  /** The site whose lease ran out. */
  site,
  agentUrl: url.optional(),
  hostEndpoints: z.array(hostEndpointSchema),
});
export type WitnessAsk = z.infer<typeof witnessAskSchema>;
export const contactReplySchema = z.object({
  ok: z.literal(true),
  /** The site lease the monitor counts (the agent's failsafe fences inside it). */
  leaseMs: z.number(),
  /** The other sites' agents' peer listeners. */
  peers: z.array(z.object({ site, url })),
  /** Probe these sites now and post the verdicts (`/witness`). */
  asks: z.array(witnessAskSchema),
  /**
   * The site's VMs under an armed automatic failover (engine/control/auto arming, maintenance
   * excluded): the agent arms its hosts' guards with them, and disarms them when empty.
   */
  armedVms: z.array(text(200)).default([]),
});
export type ContactReply = z.infer<typeof contactReplySchema>;

/** `POST /agents/:site/witness`: what this site's agent found when it probed another site. */
export const witnessReportSchema = z.strictObject({
  session: z.string(),
  askId: text(200),
  site,
  verdict: z.enum(['reachable', 'unreachable']),
  detail: text(2000),
});
export type WitnessReport = z.infer<typeof witnessReportSchema>;

/** The peer listener's answer to a relayed renewal: `heard` (signature checked), `relayed` (the control plane took it). */
export const peerRelayReplySchema = z.object({ heard: z.literal(true), relayed: z.boolean() });

/** The arbiter's answer about a site (`GET /sites/:site`). */
export const arbiterSiteSchema = z.object({
  site,
  heard: z.boolean(),
  /** On the arbiter's monotonic clock, how long ago it last took a renewal of the site. */
  lastHeardAgoMs: z.number().optional(),
});
export type ArbiterSite = z.infer<typeof arbiterSiteSchema>;
