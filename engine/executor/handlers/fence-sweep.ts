/**
 * The site agent's own guard against split-brain, for what the fence steps of a failover cannot
 * reach: a host or a whole site that was down or cut off when its fence ran (the step ended
 * `warned`) and comes back later, when Hyper-V's automatic start action starts the old primaries.
 * Nothing is queued for them any more, so the agent looks itself: at start (after the queued jobs
 * had a moment to run) and whenever it sees a host of its site come back, it lists the VMs running
 * here as primaries, and fences each one that the engine recorded as failed over to another site
 * (engine/locks failed-over records), under that failover's epoch. A VM that accepted a newer epoch
 * (a failback, a cancel that restored it) belongs to that newer execution and is left alone.
 * Each one fenced ran in two sites: the sweep records it as a divergence (`diverged` event in the
 * failover's log, handlers/divergence.ts), with how long it ran and what a reprotect would discard.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { Divergence, ExecutionEvent } from '../../contract/index.ts';
import type { HostDriver, VmView } from '../../hosts/index.ts';
import { readFailedOver } from '../../locks/index.ts';
import { appendEvents } from '../events.ts';
import { executionKeys } from '../keys.ts';
import { divergedEvent, fenceDiverged, runsAsPrimary } from './divergence.ts';

/** A VM the engine recorded failed over: by which execution, to which site, under which epoch. */
export interface SweepRecord {
  execution: string;
  site: string;
  /** The execution's epoch; absent when it is unknown (then the VM is left alone). */
  epoch?: number;
}

/**
 * What the sweep reads from the vault and where it reports: Redis in a worker that has it
 * (`redisSweepVault`), the control plane's API in a site agent (engine/agent).
 */
export interface SweepVault {
  failedOver(vms: readonly string[]): Promise<Map<string, SweepRecord>>;
  diverged(event: ExecutionEvent): Promise<void>;
}

/** The sweep's vault straight from Redis: the failed-over records and each execution's epoch. */
export function redisSweepVault(redis: Redis, prefix: string): SweepVault {
  return {
    failedOver: async (vms) => {
      const records = await readFailedOver(redis, prefix, vms);
      const epochs = new Map<string, number | undefined>();
      const out = new Map<string, SweepRecord>();
      for (const [vm, record] of records) {
        if (record.epoch === undefined && !epochs.has(record.execution)) {
          const raw = await redis.hget(executionKeys(prefix, record.execution).meta, 'epoch');
          epochs.set(record.execution, raw === null ? undefined : Number(raw));
        }
        // A cancel that returned the VM to the other site records the epoch it restarted it under.
        const epoch = record.epoch ?? epochs.get(record.execution);
        out.set(vm, {
          execution: record.execution,
          site: record.site,
          ...(epoch === undefined ? {} : { epoch }),
        });
      }
      return out;
    },
    diverged: async (event) => {
      await appendEvents(redis, prefix, [event]);
    },
  };
}

export interface FenceSweepOptions {
  api: HostDriver;
  vault: SweepVault;
  site: string;
  log: Logger;
  /** How often the site's hosts are looked at (one listHosts call). */
  intervalMs: number;
  /** Delay of the first sweep after start. @defaultValue 5 × intervalMs */
  firstSweepMs?: number;
  /**
   * Called with the host time of each turn that found a host of the site powered: the site's
   * heartbeat, as the engine records it (engine/locks sightings; a lost site's data-loss window is
   * measured to it).
   */
  heartbeat?: (at: string) => Promise<void>;
}

export interface FenceSweep {
  /** One sweep now: the VMs it fenced. */
  sweep(): Promise<string[]>;
  stop(): void;
}

export function startFenceSweep(options: FenceSweepOptions): FenceSweep {
  const { api, vault, site, log } = options;
  let stopped = false;
  let running: Promise<string[]> | undefined;
  let lastHosts: string | undefined;

  const sweep = async (): Promise<string[]> => {
    let views: VmView[];
    try {
      views = await api.listVMs(site);
    } catch (error) {
      log.debug({ err: error }, 'fence sweep: site not readable');
      return [];
    }
    const primaries = views.filter(runsAsPrimary);
    if (primaries.length === 0) return [];
    let records: Map<string, SweepRecord>;
    try {
      records = await vault.failedOver(primaries.map((v) => v.name));
    } catch (error) {
      log.warn({ err: error }, 'fence sweep: failed-over records not readable; next turn');
      return [];
    }
    const fenced: string[] = [];
    for (const view of primaries) {
      const record = records.get(view.name);
      if (record === undefined || record.site === site) continue;
      const epoch = record.epoch;
      if (epoch === undefined || !Number.isSafeInteger(epoch)) continue;
      let divergence: Divergence;
      try {
        // Read again right before acting: a fence job of the failover may have run meanwhile.
        const seenAt = await api.now();
        const now = await api.getVM(site, view.name);
        if (!runsAsPrimary(now) || now.epoch > epoch) continue;
        const result = await fenceDiverged(api, {
          site,
          vm: view.name,
          epoch,
          runsAt: record.site,
          detectedBy: 'fence-sweep',
          view: now,
          seenAt,
        });
        divergence = result.divergence;
        if (result.error !== undefined)
          log.warn({ err: result.error, vm: view.name }, 'fence sweep: could not fence an old primary');
      } catch (error) {
        log.warn({ err: error, vm: view.name }, 'fence sweep: could not read an old primary');
        continue;
      }
      if (divergence.fenced) fenced.push(view.name);
      log.warn(
        {
          vm: view.name,
          execution: record.execution,
          to: record.site,
          epoch,
          ranFrom: divergence.ranFrom,
          ranMs: divergence.ranMs,
        },
        divergence.fenced
          ? 'old primary running after its site came back while its VM runs elsewhere: diverged, fenced'
          : 'old primary running after its site came back while its VM runs elsewhere: diverged, NOT fenced',
      );
      await vault
        .diverged(divergedEvent(record.execution, divergence))
        .catch((error: unknown) => log.warn({ err: error }, 'fence sweep: could not log the divergence'));
    }
    return fenced;
  };

  const once = (): Promise<string[]> => {
    running ??= sweep().finally(() => {
      running = undefined;
    });
    return running;
  };

  const probe = async (): Promise<void> => {
    let hosts: string;
    try {
      const list = await api.listHosts(site);
      hosts = list
        .filter((h) => h.powered)
        .map((h) => h.name)
        .sort()
        .join(',');
    } catch {
      hosts = '';
    }
    const cameBack =
      lastHosts !== undefined && hosts.split(',').some((h) => h !== '' && !lastHosts?.split(',').includes(h));
    lastHosts = hosts;
    if (hosts !== '' && options.heartbeat !== undefined) {
      const heartbeat = options.heartbeat;
      await api
        .now()
        .then((at) => heartbeat(at))
        .catch((error: unknown) => log.debug({ err: error }, 'site heartbeat not recorded'));
    }
    if (cameBack) await once();
  };

  const timer = setInterval(() => {
    if (!stopped) probe().catch((error: unknown) => log.warn({ err: error }, 'fence sweep failed'));
  }, options.intervalMs);
  timer.unref();
  const first = setTimeout(
    () => {
      if (!stopped) once().catch((error: unknown) => log.warn({ err: error }, 'fence sweep failed'));
    },
    options.firstSweepMs ?? 5 * options.intervalMs,
  );
  first.unref();
  return {
    sweep: once,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(first);
    },
  };
}
