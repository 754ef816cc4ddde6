/**
 * The agent's peer listener and its cross-site contacts (issue 13): how one site's agent reaches
 * the other's without the control plane.
 *
 * - `GET /alive` → 204, no body: the witness's contact. It needs no credentials and reveals
 *   nothing (not the site, not the version): a prober learns only that something answers there.
 * - `POST /relay` {SignedRenewal}: another site's lease renewal. The listener checks it with the
 *   vault's CA certificates (verifyAgentSignature: issued by the vault, valid, for the site it
 *   names, signed by that certificate's key), answers `heard` at once, and carries it to the control
 *   plane over its own mTLS link (`relayed`: the control plane counted it). A renewal of its own
 *   site, or one that does not verify, is refused (403) and never carried.
 *
 * The peer link is plain HTTP by design: nothing on it is a credential or a secret, and what it
 * carries is signed end to end (the control plane verifies the signature again, and its replay
 * window refuses a renewal seen before). A man in the middle can drop renewals (a cut link, which
 * the design survives) but not forge or replay one.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Logger } from '../common/index.ts';
import { verifyAgentSignature } from '../common/index.ts';
import { readSmallBody } from '../common/read-body.ts';
import { peerRelayReplySchema, type SignedRenewal, signedRenewalSchema } from '../contract/index.ts';

export interface PeerListener {
  /** `http://host:port` it listens on. */
  readonly url: string;
  close(): Promise<void>;
}

export interface PeerListenerOptions {
  /** `host:port` (port 0: a free one). */
  listen: string;
  site: string;
  /** The vault's CA certificates (PEM) renewals must chain to; none: the listener relays nothing. */
  trusted: () => readonly string[];
  /** Carry a verified renewal to the control plane: true when it was counted. */
  relay: (renewal: SignedRenewal) => Promise<boolean>;
  log: Logger;
}

/** Parse `host:port` (IPv6 in brackets). */
export function splitHostPort(value: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || !match[1] || !Number.isSafeInteger(port) || port > 65_535) {
    throw new RangeError(`expected host:port, got "${value}"`);
  }
  return { host: match[1], port };
}

export async function startPeerListener(options: PeerListenerOptions): Promise<PeerListener> {
  const { host, port } = splitHostPort(options.listen);
  const server: Server = createServer((request, response) => {
    const answer = (status: number, body?: unknown): void => {
      response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (request.method === 'GET' && request.url === '/alive') return answer(204);
    if (request.method !== 'POST' || request.url !== '/relay') return answer(404, { error: 'not found' });
    readSmallBody(request)
      .then(async (text) => {
        const parsed = signedRenewalSchema.safeParse(JSON.parse(text));
        if (!parsed.success) return answer(400, { error: 'not a signed renewal' });
        const renewal = parsed.data;
        if (renewal.stamp.site === options.site) return answer(403, { error: 'a renewal of this site' });
        const check = verifyAgentSignature({
          certificate: new X509Certificate(renewal.certificate),
          trusted: options.trusted(),
          stamp: renewal.stamp,
          body: renewal.body,
          signature: renewal.signature,
        });
        if (!check.ok) return answer(403, { error: check.detail });
        // Heard: the sender reached this site. Carry it on; the sender learns whether it was counted.
        const relayed = await options.relay(renewal).catch((error: unknown) => {
          options.log.debug(
            { err: (error as Error).message, from: renewal.stamp.site },
            'renewal not relayed',
          );
          return false;
        });
        answer(200, { heard: true, relayed });
      })
      .catch(() => answer(400, { error: 'a JSON body of at most 16 KiB' }));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Send a renewal to a peer's listener: the peer's answer, or undefined when it could not be reached. */
export async function sendToPeer(
  peerUrl: string,
  renewal: SignedRenewal,
  timeoutMs: number,
): Promise<{ heard: true; relayed: boolean } | undefined> {
  try {
    const response = await fetch(`${peerUrl.replace(/\/$/, '')}/relay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(renewal),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    return peerRelayReplySchema.parse(await response.json());
  } catch {
    return undefined;
  }
}

/** One contact of the witness: did `GET <agent>/alive` answer, did a TCP connect to a host endpoint open. */
export interface ProbeResult {
  target: string;
  ok: boolean;
  detail: string;
}

export async function probeAlive(agentUrl: string, timeoutMs: number): Promise<ProbeResult> {
  const target = `GET ${agentUrl.replace(/\/$/, '')}/alive`;
  try {
    const response = await fetch(`${agentUrl.replace(/\/$/, '')}/alive`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return { target, ok: response.status === 204, detail: `answered ${response.status}` };
  } catch (error) {
    return { target, ok: false, detail: `no answer (${(error as Error).name})` };
  }
}

export function probeTcp(endpoint: string, timeoutMs: number): Promise<ProbeResult> {
  const target = `TCP ${endpoint}`;
  return new Promise((resolve) => {
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(endpoint));
    } catch (error) {
      resolve({ target, ok: false, detail: (error as Error).message });
      return;
    }
    const socket = connect({ host, port });
    const done = (ok: boolean, detail: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ target, ok, detail });
    };
    const timer = setTimeout(() => done(false, `no connection within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(true, 'connected'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? error.message));
  });
}

/**
 * The witness's verdict on a site: reachable when its agent or any of its hosts answered,
 * unreachable when none did. With nothing to try (the site announced no listener and no host
 * endpoint) the witness cannot vouch for a loss: that counts as reachable (nothing is failed over).
 */
export function witnessVerdict(results: readonly ProbeResult[]): {
  verdict: 'reachable' | 'unreachable';
  detail: string;
} {
  const detail =
    results.length === 0
      ? 'nothing to probe: the site announced no agent listener and no host endpoint'
      : results.map((r) => `${r.target}: ${r.detail}`).join('; ');
  const reached = results.length === 0 || results.some((r) => r.ok);
  return { verdict: reached ? 'reachable' : 'unreachable', detail };
}
