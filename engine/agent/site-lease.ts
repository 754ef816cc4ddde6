/**
 * The agent's side of its site's lease (issue 13): beside the heartbeat (the direct renewal), every
 * beat it
 * - tells the control plane its contact (`POST /agents/:site/contact`: its peer listener's URL, its
 *   host endpoints) and reads back the lease, the peer sites' listeners and the witness asks;
 * - signs a renewal (link.signRenewal) and sends it to the peer site's agent, which relays it
 *   (peer.ts), and to the arbiter when there is one;
 * - answers the witness asks: probes the named site's agent (`GET /alive`) and host endpoints (TCP
 *   connect) and posts the verdict (`POST /agents/:site/witness`);
 * and, with the failsafe on, checks its lease on the monotonic clock (failsafe.ts) and fences the
 * site's running primaries through the host driver when no path acknowledged a renewal for the
 * lease minus its fence time. The fence is recorded: a log line, and a JSON line in
 * `<state dir>/<site>/self-fence.jsonl` when the agent has a vault identity.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/index.ts';
import {
  type ContactReply,
  contactReplySchema,
  type SignedRenewal,
  type WitnessAsk,
} from '../contract/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import { type ContactPath, type Contacts, failsafeConfigIssue, failsafeDecision } from './failsafe.ts';
import { createHostGuards, type HostGuards } from './guard.ts';
import type { AgentLink } from './link.ts';
import {
  type PeerListener,
  probeAlive,
  probeTcp,
  sendToPeer,
  startPeerListener,
  witnessVerdict,
} from './peer.ts';

export interface SiteLeaseOptions {
  /** `host:port` of the peer listener (port 0: a free one); none: no listener (nothing relayed for others). */
  peerListen?: string;
  /** The listener's URL as other sites reach it. @defaultValue the URL it listens on */
  peerAdvertise?: string;
  /** The peer site's agent listener; else the one the control plane's contact answer names. */
  peer?: string;
  /** The arbiter (`drctl arbiter`), renewed to every beat as well. */
  arbiter?: string;
  /** `host:port` of the site's hosts' management endpoints, the witness's TCP probe targets. */
  hostEndpoints?: readonly string[];
  /**
   * Self-fencing (failsafe.ts): off unless given. `leaseMs` is the site lease the agent assumes
   * until the control plane's contact answer tells it (the shorter one is used); `fenceMs` the
   * fence time's floor (the measured one is used when longer).
   */
  failsafe?: { leaseMs: number; fenceMs: number };
  /** @defaultValue performance.now */
  now?: () => number;
}

export interface SiteLease {
  /** The direct path acknowledged a heartbeat sent at `sentAt` (monotonic). */
  acknowledged(path: ContactPath, sentAt: number): void;
  /** The peer listener's URL, once it listens. */
  readonly peerUrl: string | undefined;
  /** The self-fences this agent made. */
  fences(): readonly SelfFence[];
  /** Per path, when it last acknowledged a renewal (monotonic). */
  contacts(): Contacts;
  /** The hosts' guards (guard.ts). */
  readonly guards: HostGuards;
  close(): Promise<void>;
}

export interface SelfFence {
  at: string;
  reason: string;
  vms: string[];
  failed: string[];
  tookMs: number;
}

export interface SiteLeaseContext {
  site: string;
  link: AgentLink;
  api: HostDriver;
  log: Logger;
  heartbeatMs: number;
  /** Send a heartbeat now (the direct renewal), for the renewal round after a pause. */
  heartbeat: () => Promise<void>;
}

/** Throws the configuration's refusal (a RangeError naming the rule) before anything starts. */
export function checkSiteLeaseOptions(options: SiteLeaseOptions): void {
  if (options.failsafe === undefined) return;
  const issue = failsafeConfigIssue(options.failsafe);
  if (issue !== undefined) throw new RangeError(issue);
}

export async function startSiteLease(options: SiteLeaseOptions, ctx: SiteLeaseContext): Promise<SiteLease> {
  checkSiteLeaseOptions(options);
  const now = options.now ?? (() => performance.now());
  const { site, link, api, log } = ctx;
  const startedAt = now();
  const contacts: Contacts = {};
  const fences: SelfFence[] = [];
  const timeoutMs = Math.max(200, Math.min(1000, ctx.heartbeatMs));
  let closed = false;
  let listener: PeerListener | undefined;
  if (options.peerListen !== undefined) {
    listener = await startPeerListener({
      listen: options.peerListen,
      site,
      trusted: () => link.identity?.ca ?? [],
      relay: async (renewal) => {
        const session = link.session?.session;
        if (session === undefined) return false;
        const reply = await link.request<{ counted?: boolean }>(
          'POST',
          `/api/v1/agents/${encodeURIComponent(site)}/relay`,
          { body: { session, renewal }, timeoutMs },
        );
        return reply.counted === true;
      },
      log,
    });
    log.info({ url: listener.url }, 'peer listener up');
  }
  const advertised = options.peerAdvertise ?? listener?.url;
  let reply: ContactReply | undefined;
  const guards = createHostGuards({ site, api, log, heartbeatMs: ctx.heartbeatMs, now });
  const freshest = (): number | undefined => {
    const sent = Object.values(contacts).filter((t): t is number => typeof t === 'number');
    return sent.length === 0 ? undefined : Math.max(...sent);
  };
  const acknowledged = (path: ContactPath, sentAt: number): void => {
    contacts[path] = Math.max(contacts[path] ?? Number.NEGATIVE_INFINITY, sentAt);
  };

  let renewal = 0;
  const renewToPeers = async (): Promise<void> => {
    renewal += 1;
    const signed = link.signRenewal(renewal);
    if (signed === undefined) return;
    const sentAt = now();
    const peer = options.peer ?? reply?.peers[0]?.url;
    await Promise.all([
      peer === undefined
        ? undefined
        : sendToPeer(peer, signed, timeoutMs).then((answer) => {
            if (answer?.heard) acknowledged('peer', sentAt);
          }),
      options.arbiter === undefined
        ? undefined
        : renewToArbiter(options.arbiter, signed, timeoutMs).then((ok) => {
            if (ok) acknowledged('arbiter', sentAt);
          }),
    ]);
  };

  const witnessing = new Set<string>();
  const witness = async (ask: WitnessAsk): Promise<void> => {
    if (witnessing.has(ask.askId)) return;
    witnessing.add(ask.askId);
    try {
      const results = await Promise.all([
        ...(ask.agentUrl === undefined ? [] : [probeAlive(ask.agentUrl, timeoutMs)]),
        ...ask.hostEndpoints.map((endpoint) => probeTcp(endpoint, timeoutMs)),
      ]);
      const { verdict, detail } = witnessVerdict(results);
      const session = link.session?.session;
      if (session === undefined) return;
      await link.request('POST', `/api/v1/agents/${encodeURIComponent(site)}/witness`, {
        body: { session, askId: ask.askId, site: ask.site, verdict, detail },
        timeoutMs,
      });
      log.info({ target: ask.site, verdict, detail }, 'witness probe answered');
    } catch (error) {
      log.warn({ err: (error as Error).message, target: ask.site }, 'witness verdict not posted');
    } finally {
      setTimeout(() => witnessing.delete(ask.askId), 60_000).unref();
    }
  };

  const contact = async (): Promise<void> => {
    const session = link.session?.session;
    if (session === undefined) return;
    const sentAt = now();
    const answer = contactReplySchema.parse(
      await link.request('POST', `/api/v1/agents/${encodeURIComponent(site)}/contact`, {
        body: {
          session,
          ...(advertised === undefined ? {} : { url: advertised }),
          hostEndpoints: [...(options.hostEndpoints ?? [])],
          guards: guards.health(),
        },
        timeoutMs,
      }),
    );
    acknowledged('control', sentAt);
    if (options.failsafe !== undefined && answer.leaseMs !== reply?.leaseMs) {
      const issue = failsafeConfigIssue({ leaseMs: answer.leaseMs, fenceMs: fenceMs() });
      if (issue !== undefined)
        log.error({ leaseMs: answer.leaseMs }, `the control plane's site lease: ${issue}`);
    }
    reply = answer;
    guards.plan(answer.armedVms, answer.leaseMs);
    for (const ask of answer.asks) void witness(ask);
  };

  // ---- the failsafe ----
  /** The last measures (a pause or a load spike inflates one: the median of the last five counts). */
  const measures: number[] = [];
  let warnedLong = false;
  const leaseMs = (): number =>
    Math.min(
      options.failsafe?.leaseMs ?? Number.POSITIVE_INFINITY,
      reply?.leaseMs ?? Number.POSITIVE_INFINITY,
    );
  const fenceMs = (): number => {
    const sorted = [...measures].sort((a, b) => a - b);
    const measured = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const wanted = Math.max(options.failsafe?.fenceMs ?? 0, measured);
    // Past half the lease the failsafe could no longer fence in time; fencing at once on every
    // hiccup would be an outage of its own. Capped there, and said loudly.
    const cap = leaseMs() / 2;
    if (wanted > cap && !warnedLong) {
      warnedLong = true;
      log.error(
        { fenceMs: Math.round(wanted), leaseMs: leaseMs() },
        'failsafe: the measured fence time is longer than half the site lease; fencing may come too late: lengthen the lease (drctl serve --site-lease-ms)',
      );
    }
    if (wanted <= cap) warnedLong = false;
    return Math.min(wanted, cap);
  };
  /** What a fence would turn off: the site's running primaries (test VMs aside). */
  const primaries = async (): Promise<{ name: string; epoch: number }[]> =>
    (await api.listVMs(site))
      .filter((vm) => !vm.isTest && vm.replication?.mode === 'Primary' && vm.state !== 'Off')
      .map((vm) => ({ name: vm.name, epoch: vm.epoch }));
  /** The fence time measured: twice a read of every primary, one after the other. */
  const measure = async (): Promise<void> => {
    const started = now();
    const vms = await primaries();
    for (const vm of vms) await api.getVM(site, vm.name);
    measures.push(2 * (now() - started));
    if (measures.length > 5) measures.shift();
  };
  let fenced = false;
  const fence = async (reason: string): Promise<void> => {
    fenced = true;
    const started = now();
    log.error(
      { reason },
      'failsafe: no path renews the site lease; fencing the site (its running primaries off)',
    );
    const done: string[] = [];
    const failed: string[] = [];
    let vms: { name: string; epoch: number }[] = [];
    try {
      vms = await primaries();
    } catch (error) {
      log.error({ err: (error as Error).message }, 'failsafe: the hosts could not be listed');
    }
    await Promise.all(
      vms.map(async (vm) => {
        try {
          await api.fenceVM({ site, vm: vm.name, epoch: vm.epoch });
          done.push(vm.name);
        } catch (error) {
          failed.push(vm.name);
          log.error({ vm: vm.name, err: (error as Error).message }, 'failsafe: VM not fenced');
        }
      }),
    );
    const record: SelfFence = {
      at: new Date().toISOString(),
      reason,
      vms: done.sort(),
      failed: failed.sort(),
      tookMs: Math.round(now() - started),
    };
    fences.push(record);
    log.error(record, 'failsafe: site fenced by its agent');
    const identity = link.identity;
    if (identity !== undefined) {
      try {
        appendFileSync(join(identity.dir, site, 'self-fence.jsonl'), `${JSON.stringify(record)}\n`, {
          mode: 0o600,
        });
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'failsafe: the fence record was not written');
      }
    }
  };
  const checkEveryMs = Math.max(50, Math.min(250, ctx.heartbeatMs / 2));
  let lastCheckAt = now();
  let renewedAfterWakeAt: number | undefined;
  let checking = false;
  const check = async (): Promise<void> => {
    if (options.failsafe === undefined || checking || closed) return;
    checking = true;
    try {
      for (;;) {
        const at = now();
        const decision = failsafeDecision({
          now: at,
          config: { leaseMs: leaseMs(), fenceMs: fenceMs() },
          contacts,
          startedAt,
          lastCheckAt,
          checkEveryMs,
          fenced,
          ...(renewedAfterWakeAt === undefined ? {} : { renewedAfterWakeAt }),
        });
        lastCheckAt = at;
        if (decision.action === 'hold') {
          fenced = false;
          return;
        }
        if (decision.action === 'renew-first') {
          log.warn(
            { pausedMs: Math.round(decision.pausedMs) },
            'failsafe: woke past the lease; renewing before acting',
          );
          await Promise.allSettled([ctx.heartbeat(), contact(), renewToPeers()]);
          renewedAfterWakeAt = now();
          continue;
        }
        if (decision.action === 'fence') await fence(decision.reason);
        return;
      }
    } finally {
      checking = false;
    }
  };

  const beat = async (): Promise<void> => {
    await Promise.allSettled([
      contact().catch((error: unknown) => {
        log.debug({ err: (error as Error).message }, 'contact not sent');
      }),
      renewToPeers(),
    ]);
    // Renewed on this beat's acknowledged renewals only (never on a lease from before a pause).
    await guards.beat(freshest()).catch((error: unknown) => {
      log.warn({ err: (error as Error).message }, 'host guards not renewed');
    });
  };
  const beatTimer = setInterval(() => void beat(), ctx.heartbeatMs);
  const checkTimer = setInterval(() => void check(), checkEveryMs);
  let measuring = 0;
  const measureTimer =
    options.failsafe === undefined
      ? undefined
      : setInterval(() => {
          if (measuring++ % 20 === 0) void measure().catch(() => {});
        }, ctx.heartbeatMs);
  if (options.failsafe !== undefined) void measure().catch(() => {});
  void beat();

  return {
    acknowledged,
    get peerUrl() {
      return listener?.url;
    },
    fences: () => fences,
    contacts: () => ({ ...contacts }),
    guards,
    close: async () => {
      closed = true;
      clearInterval(beatTimer);
      clearInterval(checkTimer);
      clearInterval(measureTimer);
      await listener?.close();
    },
  };
}

async function renewToArbiter(arbiter: string, renewal: SignedRenewal, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${arbiter.replace(/\/$/, '')}/renew`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(renewal),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
