/**
 * `drctl arbiter`: the optional third-site tie-breaker (issue 13), as Pacemaker booth's arbitrator.
 * It holds no credentials and decides nothing: agents send it their signed renewals (the same
 * SignedRenewal the peer site relays), it checks each with the vault's CA certificates (issued by
 * the vault, valid, for the site it names, signed with that certificate's key) and refuses one it
 * has seen (per site: the incarnation and the highest sequence taken; an older incarnation than the
 * latest by send time is refused too), and times the last one taken per site on its own monotonic
 * clock. The control plane's site monitor, and agents, ask it when it last heard of a site.
 *
 * - `POST /renew` {SignedRenewal} → 200 {ok, site}; 400 not one; 403 does not verify; 409 replayed;
 * - `GET /sites/:site` → {site, heard, lastHeardAgoMs};
 * - `GET /alive` → 204.
 * Plain HTTP: nothing it takes is a secret (renewals are signed end to end), and what it answers is
 * a time. An agent's renewal reaching it counts as a contact for that agent's failsafe.
 */
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { type Logger, verifyAgentSignature } from '../common/index.ts';
import { readSmallBody } from '../common/read-body.ts';
import { type ArbiterSite, signedRenewalSchema } from '../contract/index.ts';

export interface ArbiterOptions {
  host?: string;
  /** 0: a free one. */
  port: number;
  /** The vault's CA certificates (PEM). */
  trusted: readonly string[];
  log: Logger;
  /** @defaultValue performance.now */
  now?: () => number;
}

export interface Arbiter {
  readonly url: string;
  /** What it knows of a site now. */
  site(site: string): ArbiterSite;
  close(): Promise<void>;
}

interface Heard {
  incarnation: string;
  seq: number;
  sentAt: number;
  at: number;
}

/** Whether a renewal is new for what the arbiter heard of its site (pure: the replay rule). */
export function arbiterTakes(
  previous: Heard | undefined,
  stamp: { incarnation: string; seq: number; sentAt: number },
): boolean {
  if (previous === undefined) return true;
  if (stamp.incarnation === previous.incarnation) return stamp.seq > previous.seq;
  // Another incarnation: only a later agent process (by its own send time) takes over.
  return stamp.sentAt > previous.sentAt;
}

export async function startArbiter(options: ArbiterOptions): Promise<Arbiter> {
  const now = options.now ?? (() => performance.now());
  const heard = new Map<string, Heard>();
  const trusted = options.trusted.map((pem) => new X509Certificate(pem));
  const siteView = (site: string): ArbiterSite => {
    const last = heard.get(site);
    return last === undefined
      ? { site, heard: false }
      : { site, heard: true, lastHeardAgoMs: Math.round(now() - last.at) };
  };
  const server = createServer((request, response) => {
    const answer = (status: number, body?: unknown): void => {
      response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const url = request.url ?? '';
    if (request.method === 'GET' && url === '/alive') return answer(204);
    const siteMatch = /^\/sites\/([\w.-]{1,100})$/.exec(url);
    if (request.method === 'GET' && siteMatch?.[1] !== undefined) return answer(200, siteView(siteMatch[1]));
    if (request.method !== 'POST' || url !== '/renew') return answer(404, { error: 'not found' });
    readSmallBody(request)
      .then((text) => {
        const parsed = signedRenewalSchema.safeParse(JSON.parse(text));
        if (!parsed.success) return answer(400, { error: 'not a signed renewal' });
        const renewal = parsed.data;
        const check = verifyAgentSignature({
          certificate: new X509Certificate(renewal.certificate),
          trusted,
          stamp: renewal.stamp,
          body: renewal.body,
          signature: renewal.signature,
        });
        if (!check.ok) {
          options.log.warn({ site: renewal.stamp.site, reason: check.reason }, 'renewal refused');
          return answer(403, { error: check.detail });
        }
        const site = renewal.stamp.site;
        if (!arbiterTakes(heard.get(site), renewal.stamp)) return answer(409, { error: 'replayed or stale' });
        heard.set(site, {
          incarnation: renewal.stamp.incarnation,
          seq: renewal.stamp.seq,
          sentAt: renewal.stamp.sentAt,
          at: now(),
        });
        answer(200, { ok: true, site });
      })
      .catch(() => answer(400, { error: 'a JSON body of at most 16 KiB' }));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    site: siteView,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
