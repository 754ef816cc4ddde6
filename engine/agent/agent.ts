/**
 * A site agent's main loop: the only process that talks to its site's hosts, reaching the control
 * plane outbound only over its HTTP API (link.ts), holding no Redis credentials. It says hello
 * (version, script catalog), sends a heartbeat every `heartbeatMs` (the units it holds, when it last
 * found a host of its site powered), long-polls for units and runs them (units.ts), posts their
 * reports in batches, and runs the fence sweep against its hosts with the vault's records read
 * through the API. `reporters` start with the link (inventory reporting plugs in here).
 */
import { hostname } from 'node:os';
import { createLogger, DrError, type Logger } from '../common/index.ts';
import {
  type AgentHello,
  MAX_POLL_UNITS,
  MAX_POLL_WAIT_MS,
  MAX_RESULTS_PER_POST,
  type UnitProgress,
  type UnitReport,
} from '../contract/index.ts';
import {
  type HandlerOptions,
  resolveHandlerOptions,
  scanCatalog,
  startFenceSweep,
} from '../executor/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import { type AgentIdentity, renewalAt } from './identity.ts';
import { type AgentLink, createAgentLink, sleep } from './link.ts';
import {
  checkSiteLeaseOptions,
  type SiteLease,
  type SiteLeaseOptions,
  startSiteLease,
} from './site-lease.ts';
import { createUnitPool } from './units.ts';

/**
 * How long a running unit's events wait before they go ahead of its report: most units end sooner
 * and send them with it (no extra request on the dispatch path); a long one shows in the log live.
 */
const PROGRESS_DELAY_MS = 50;

/** What the agent gives a reporter when its link is up. */
export interface AgentReporterContext {
  site: string;
  /** The control plane's API, for a reporter's own requests. */
  server: string;
  api: HostDriver;
  link: AgentLink;
  /** The control plane's API over the link's TLS identity, stamped (use it, not a requester of your own). */
  request: AgentLink['request'];
  log: Logger;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
}

/** Something the agent runs beside its units for as long as it runs (e.g. inventory reports). */
export interface AgentReporter {
  readonly name: string;
  start(ctx: AgentReporterContext): { stop(): Promise<void> | void };
}

export interface AgentOptions {
  site: string;
  /** The control plane's API (`drctl serve`), e.g. https://127.0.0.1:7080. */
  server: string;
  /** The site's hosts (engine/hosts; the CLI wires the simulator's client today). */
  api: HostDriver;
  /** The version it says in its hello. */
  version: string;
  /**
   * Units run at once.
   * @defaultValue 200
   */
  concurrency?: number;
  /**
   * How often a heartbeat goes to the control plane.
   * @defaultValue 1000
   */
  heartbeatMs?: number;
  /**
   * How long one poll waits for a unit when none is ready.
   * @defaultValue 25_000
   */
  pollWaitMs?: number;
  /**
   * How often the site's hosts are looked at (the site's heartbeat sighting, and old primaries
   * that came back: handlers/fence-sweep.ts); 0 turns the sweep off.
   * @defaultValue 10_000
   */
  fenceSweepMs?: number;
  /** Handler tunables (script catalog, probe intervals). */
  handlers?: HandlerOptions;
  /** Run beside the units once the link is up. @defaultValue none */
  reporters?: readonly AgentReporter[];
  /** @defaultValue `<host>-<pid>-<random>` */
  agentId?: string;
  /**
   * Take the site over from another agent whose session is still live (the first hello only: a
   * later one, after the vault lost the session, must not take the site back from a successor).
   * Without it, such a site refuses the hello and `ready()` rejects with SITE_HAS_AGENT.
   * @defaultValue false
   */
  replace?: boolean;
  /**
   * Its vault identity (identity.ts: key, client certificate, CA), required for an https server;
   * renewed by the agent at half its life (and retried every `renewRetryMs` until it is).
   */
  identity?: AgentIdentity;
  /** @defaultValue min(30 s, a tenth of the certificate's life) */
  renewRetryMs?: number;
  /** @defaultValue a pino logger named `agent` */
  logger?: Logger;
  /**
   * The site lease beyond the heartbeat (site-lease.ts): the peer listener, the peer site and the
   * arbiter it renews through, its host endpoints for the witness, the failsafe. @defaultValue none
   */
  siteLease?: SiteLeaseOptions;
}

export interface Agent {
  readonly agentId: string;
  readonly link: AgentLink;
  /** Resolves once the first hello was answered (rejects when it was refused, e.g. a version skew). */
  ready(): Promise<void>;
  /** Resolves when the agent stopped by itself (replaced by another agent of its site). */
  readonly stopped: Promise<DrError | undefined>;
  /** Stop polling, let running units finish (bounded), post their reports, stop. */
  close(timeoutMs?: number): Promise<void>;
  /** The site lease's side (peer listener, failsafe), once the link is up (with `siteLease`). */
  siteLease(): SiteLease | undefined;
}

export function startAgent(options: AgentOptions): Agent {
  const log = (options.logger ?? createLogger('agent')).child({ site: options.site });
  if (options.siteLease !== undefined) checkSiteLeaseOptions(options.siteLease);
  const agentId = options.agentId ?? `${hostname()}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const handlers = resolveHandlerOptions(options.handlers);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const stop = new AbortController();
  let hostsSeenAt: string | undefined;
  let catalog: AgentHello['scriptCatalog'] = { scripts: {} };
  let replace = options.replace === true;
  const scan = async (): Promise<AgentHello['scriptCatalog']> => {
    const folder = handlers.scriptCatalog;
    catalog =
      folder === undefined || folder === ''
        ? { scripts: {} }
        : { folder, scripts: await scanCatalog(folder) };
    return catalog;
  };
  const link = createAgentLink({
    server: options.server,
    log,
    ...(options.identity === undefined ? {} : { identity: options.identity }),
    hello: async () => {
      const body = {
        site: options.site,
        agentId,
        version: options.version,
        scriptCatalog: await scan(),
        ...(replace ? { replace } : {}),
      };
      replace = false;
      return body;
    },
  });

  // Reports wait here until a post took them; one post at a time, each with all that waits.
  const outbox = new Map<string, UnitReport>();
  // Events of running units taken for a post, kept until one was accepted (in order).
  let progress: UnitProgress[] = [];
  let posting: Promise<void> | undefined;
  const post = async (): Promise<void> => {
    for (;;) {
      progress.push(...pool.takeProgress());
      if (outbox.size === 0 && progress.length === 0) return;
      const batch = [...outbox.values()].slice(0, MAX_RESULTS_PER_POST);
      const ahead = progress.slice(0, MAX_RESULTS_PER_POST);
      try {
        await link.postResults(batch, ahead);
        for (const report of batch) outbox.delete(report.unit);
        progress = progress.slice(ahead.length);
      } catch (error) {
        const refused = refusedUnits(error);
        if (refused !== undefined) {
          log.error({ err: (error as Error).message, refused }, 'the control plane refused reports; dropped');
          const drop = new Set(refused.length > 0 ? refused : [...batch, ...ahead].map((r) => r.unit));
          for (const unit of drop) outbox.delete(unit);
          progress = progress.filter((p) => !drop.has(p.unit));
          continue;
        }
        log.warn({ err: (error as Error).message }, 'reports not posted; retrying');
        await sleep(500, stop.signal);
        if (stop.signal.aborted && closingDeadline < Date.now()) return;
      }
    }
  };
  const flush = (): void => {
    posting ??= post().finally(() => {
      posting = undefined;
      if (outbox.size > 0 && !(stop.signal.aborted && closingDeadline < Date.now())) flush();
    });
  };
  let closingDeadline = Number.POSITIVE_INFINITY;
  let progressTimer: NodeJS.Timeout | undefined;

  const pool = createUnitPool({
    api: options.api,
    link,
    handlers,
    concurrency: options.concurrency ?? 200,
    log,
    onReport: (report) => {
      outbox.set(report.unit, report);
      flush();
    },
    // Not at once: a unit that ends within PROGRESS_DELAY_MS sends its events with its report.
    onEvents: () => {
      if (progressTimer !== undefined) return;
      progressTimer = setTimeout(() => {
        progressTimer = undefined;
        flush();
      }, PROGRESS_DELAY_MS);
    },
  });

  let resolveStopped: (why: DrError | undefined) => void = () => {};
  const stopped = new Promise<DrError | undefined>((resolve) => {
    resolveStopped = resolve;
  });
  const fatal = (error: DrError): void => {
    log.error({ code: error.code, err: error.message }, 'agent stops');
    stop.abort(error);
    resolveStopped(error);
  };

  const helloDone = link.hello();
  helloDone.catch(() => {});

  let beats = 0;
  const heartbeat = async (): Promise<void> => {
    beats += 1;
    const resend = beats % 5 === 0;
    const sentAt = performance.now();
    const reply = await link.heartbeat({
      running: [...pool.runningIds(), ...outbox.keys()],
      ...(hostsSeenAt === undefined ? {} : { hostsSeenAt }),
      ...(resend ? { scriptCatalog: await scan() } : {}),
    });
    siteLease?.acknowledged('control', sentAt);
    if (reply.sendCatalog) await link.heartbeat({ running: pool.runningIds(), scriptCatalog: await scan() });
  };
  let siteLease: SiteLease | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;

  const pollLoop = async (): Promise<void> => {
    let pause = 100;
    while (!stop.signal.aborted) {
      await pool.slotFreed();
      if (stop.signal.aborted) break;
      try {
        const units = await withSignalOf(stop.signal, (signal) =>
          link.poll(Math.min(pool.free(), MAX_POLL_UNITS), options.pollWaitMs ?? MAX_POLL_WAIT_MS, signal),
        );
        for (const unit of units) pool.accept(unit);
        pause = 100;
      } catch (error) {
        if (stop.signal.aborted) break;
        if (endsAgent(error)) return fatal(error);
        log.warn({ err: (error as Error).message }, 'poll failed; polling again');
        await sleep(pause, stop.signal);
        pause = Math.min(pause * 2, 2000);
      }
    }
  };

  const reporters: { stop(): Promise<void> | void }[] = [];
  let sweep: ReturnType<typeof startFenceSweep> | undefined;
  // The peer listener is up before `ready()` resolves (its URL goes into the ready line).
  const leaseStarted = helloDone.then(async () => {
    if (options.siteLease === undefined) return;
    try {
      siteLease = await startSiteLease(options.siteLease, {
        site: options.site,
        link,
        api: options.api,
        log: log.child({ part: 'site-lease' }),
        heartbeatMs,
        heartbeat,
      });
    } catch (error) {
      const failure = new DrError(
        'PEER_LISTEN_FAILED',
        `the agent's peer listener could not start on ${options.siteLease.peerListen}: ${(error as Error).message}`,
        { exitCode: 2 },
      );
      fatal(failure);
      throw failure;
    }
  });
  leaseStarted.catch(() => {});
  const started = leaseStarted.then(() => {
    heartbeatTimer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        if (endsAgent(error)) fatal(error);
        else log.warn({ err: (error as Error).message }, 'heartbeat not sent');
      });
    }, heartbeatMs);
    const sweepMs = options.fenceSweepMs ?? 10_000;
    if (sweepMs > 0) {
      sweep = startFenceSweep({
        api: options.api,
        vault: { failedOver: (vms) => link.failedOver(vms), diverged: (event) => link.diverged(event) },
        site: options.site,
        log,
        intervalMs: sweepMs,
        heartbeat: async (at) => {
          hostsSeenAt = at;
        },
      });
    }
    for (const reporter of options.reporters ?? []) {
      reporters.push(
        reporter.start({
          site: options.site,
          server: options.server,
          api: options.api,
          link,
          request: link.request,
          log: log.child({ reporter: reporter.name }),
          signal: stop.signal,
        }),
      );
    }
    return pollLoop();
  });
  // The reason, not its stack: `ready()` rejects with the same error, which the caller says.
  started.catch((error: unknown) =>
    log.error(
      error instanceof DrError ? { code: error.code, err: error.message } : { err: error },
      'agent could not start',
    ),
  );

  // The certificate renews at half its life; a failed renewal is retried and never stops the agent
  // (an expiring certificate fences nothing by itself: the control plane refuses it, the site's
  // monitor sees a silent agent, as for a cut link).
  let renewTimer: NodeJS.Timeout | undefined;
  const scheduleRenewal = (delayMs: number): void => {
    if (stop.signal.aborted) return;
    renewTimer = setTimeout(() => {
      link.renewCertificate().then(
        (renewed) => scheduleRenewal(Math.max(0, renewalAt(renewed) - Date.now())),
        (error: unknown) => {
          const life = (link.identity?.notAfter ?? 0) - (link.identity?.notBefore ?? 0);
          const retry = options.renewRetryMs ?? Math.max(100, Math.min(30_000, life / 10));
          log.warn({ err: (error as Error).message, retryMs: retry }, 'certificate not renewed; retrying');
          scheduleRenewal(retry);
        },
      );
    }, delayMs);
    renewTimer.unref();
  };
  if (options.identity !== undefined) scheduleRenewal(Math.max(0, renewalAt(options.identity) - Date.now()));

  let closing: Promise<void> | undefined;
  const close = async (timeoutMs: number): Promise<void> => {
    closingDeadline = Date.now() + timeoutMs + 3000;
    clearTimeout(renewTimer);
    stop.abort(new Error('agent shutting down'));
    // Heartbeats go on while units finish, so that the control plane does not hand them again.
    await pool.drain(timeoutMs);
    while ((outbox.size > 0 || posting) && Date.now() < closingDeadline) {
      flush();
      await Promise.race([posting, sleep(200)]);
    }
    clearInterval(heartbeatTimer);
    await siteLease?.close();
    sweep?.stop();
    await Promise.all(reporters.map((r) => r.stop()));
    resolveStopped(undefined);
  };
  return {
    agentId,
    link,
    ready: async () => {
      await helloDone;
      await leaseStarted;
    },
    stopped,
    siteLease: () => siteLease,
    close: (timeoutMs = 10_000) => {
      closing ??= close(timeoutMs);
      return closing;
    },
  };
}

/**
 * Run `task` with a signal of its own that aborts with `parent`: fetch leaves its listener on the
 * signal it is given, and thousands of polls must not pile them up on the agent's one stop signal.
 */
async function withSignalOf<T>(parent: AbortSignal, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const own = new AbortController();
  const onAbort = (): void => own.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  try {
    return await task(own.signal);
  } finally {
    parent.removeEventListener('abort', onAbort);
  }
}

/** Another agent serves the site now (it replaced this one, or took it while this one was away). */
function endsAgent(error: unknown): error is DrError {
  return error instanceof DrError && (error.code === 'AGENT_REPLACED' || error.code === 'SITE_HAS_AGENT');
}

/** The units a 4xx refusal of reports names (details.refused), or undefined when it was not one. */
function refusedUnits(error: unknown): string[] | undefined {
  if (!(error instanceof DrError)) return undefined;
  const status = error.details.status;
  if (typeof status !== 'number' || status < 400 || status >= 500 || error.code === 'UNKNOWN_SESSION')
    return undefined;
  const refused = error.details.refused;
  if (!Array.isArray(refused)) return [];
  return refused.map((r) => (r as { unit?: unknown }).unit).filter((u): u is string => typeof u === 'string');
}
